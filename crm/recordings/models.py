"""Storing a call's recordings compressed once they are transcribed: one job per call, leased
to a worker like a transcription job, and what it stored (format and sizes, never paths)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin
from crm.leased_jobs import JobStatus, LeasedJobMixin

# Done: every WAV of the call replaced by its Ogg (or nothing left to compress); failed: out
# of attempts, the WAVs are kept and last_error says why.
CompressionStatus = JobStatus


class AudioFormat(StrEnum):
    """How a recording file is encoded; `media_type` is what a browser is told."""

    WAV = "wav"  # as the PBX recorded it (8 kHz 16-bit PCM)
    OGG_OPUS = "ogg_opus"  # Opus in Ogg, written by the compression job

    @property
    def media_type(self) -> str:
        return "audio/ogg" if self is AudioFormat.OGG_OPUS else "audio/wav"

    @classmethod
    def of_path(cls, path: str) -> AudioFormat:
        """A file's format from its name (the job names each Ogg it writes `*.ogg`)."""
        return cls.OGG_OPUS if path.lower().endswith((".ogg", ".opus")) else cls.WAV


class RecordingCompression(LeasedJobMixin, TimestampMixin, Base):
    """The work of replacing one call's WAV recordings by Ogg Opus; queued in the transaction
    that stores the call's transcripts, so it is never forgotten."""

    __tablename__ = "recording_compressions"
    __table_args__ = (Index("ix_recording_compressions_status_not_before", "status", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    # Per recording column ("recording", "recording_agent", ...): {"format", "bytes",
    # "wav_bytes", "seconds"} once its Ogg replaced the WAV. Sizes only: file names carry
    # callers' numbers and are kept on the call row alone.
    files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    wav_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # the WAVs replaced
    stored_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # their Oggs
