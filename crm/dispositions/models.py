"""The disposition of a call: why the customer called, as its agent coded it in wrap-up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin


class CallDisposition(TimestampMixin, Base):
    """One per call: the code (one of the configured set), the agent's note, and the
    customer and project the call was about when the caller was not known by their number."""

    __tablename__ = "call_dispositions"
    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    coded_at: Mapped[datetime]
