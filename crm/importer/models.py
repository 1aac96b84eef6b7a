"""An import started in the browser: the uploaded file, its preview and its commit, as a job
that any web process can report on while one of them works through it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class ImportJobStatus(StrEnum):
    CHECKING = "checking"  # the file is being read and checked (the preview is on its way)
    CHECKED = "checked"  # the preview is ready; committable when it lists no problem
    COMMITTING = "committing"  # being written, in one transaction
    COMMITTED = "committed"  # written; `report` says what changed
    FAILED = "failed"  # the check or the commit could not finish; `problems` says why


class ImportJob(TimestampMixin, Base):
    """One uploaded spreadsheet, from its preview to its commit."""

    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    # The file as uploaded, until it is committed (the commit reads it again); then emptied.
    content: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[ImportJobStatus] = mapped_column(
        enum_type(ImportJobStatus), default=ImportJobStatus.CHECKING
    )
    phase: Mapped[str] = mapped_column(String(16), default="")  # read, validate, check, import
    done: Mapped[int] = mapped_column(default=0)  # of the phase's `total` items
    total: Mapped[int] = mapped_column(default=0)
    percent: Mapped[int] = mapped_column(default=0)  # of the whole job, 0-100
    heartbeat_at: Mapped[datetime | None]  # the working process's latest word
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # what the commit must match
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # why it failed
    committed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    committed_at: Mapped[datetime | None]
