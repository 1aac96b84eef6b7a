"""Transcription jobs (one per call, leased to a worker) and the transcripts they store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type
from crm.leased_jobs import JobStatus as JobStatus
from crm.leased_jobs import LeasedJobMixin


class Leg(StrEnum):
    """Which side of the call a recording holds (MixMonitor writes one file per side)."""

    AGENT = "agent"
    CUSTOMER = "customer"


class TranscriptionJob(LeasedJobMixin, TimestampMixin, Base):
    """The work of transcribing and scoring one call; survives restarts and killed workers."""

    __tablename__ = "transcription_jobs"
    __table_args__ = (Index("ix_transcription_jobs_status_not_before", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    started_at: Mapped[datetime | None]  # latest claim
    stamps_start = True


class Transcript(TimestampMixin, Base):
    """What one leg of a call said, word by word with times from the start of the recording."""

    __tablename__ = "transcripts"
    __table_args__ = (UniqueConstraint("call_id", "leg"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    leg: Mapped[Leg] = mapped_column(enum_type(Leg))
    # [{"word": str, "start": s, "end": s, "conf": 0..1}, ...] in time order.
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")  # the words joined, for reading/search
    model: Mapped[str] = mapped_column(String(128))
    duration: Mapped[float]  # seconds of audio in the file
    file: Mapped[str] = mapped_column(String(512))  # the file that was read
