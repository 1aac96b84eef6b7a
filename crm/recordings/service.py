"""Compression jobs in the database: queued with a call's transcripts, claimed with a lease,
each replaced file recorded with the guarded switch of the call's recording column.

The queue is `crm.leased_jobs`, shared with transcription jobs: a claim is a guarded UPDATE,
so two workers never hold one job; a lease that runs out (a killed worker) makes the job
claimable again and counts as another attempt. The call's column is switched from the WAV to the Ogg
only if it still names that WAV: a recording erased or deleted by retention meanwhile is not
brought back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm import leased_jobs
from crm.calls.models import Call
from crm.recordings.models import AudioFormat, CompressionStatus, RecordingCompression

RECORDING_COLUMNS = ("recording", "recording_agent", "recording_customer")


@dataclass(frozen=True, slots=True)
class CompressionClaim:
    """A job now held by the worker: the call's recording columns as they are now."""

    job_id: int
    call_id: int
    attempt: int
    recordings: dict[str, str]  # column -> stored path
    files: dict[str, Any]  # what earlier attempts already replaced (see the model)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One recording as replaced: its Ogg's size beside the WAV's, and its length."""

    format: AudioFormat
    bytes: int
    wav_bytes: int
    seconds: float
    wav_suffix: str  # the WAV's own suffix (".wav"), to find a WAV left by a crash

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format.value,
            "bytes": self.bytes,
            "wav_bytes": self.wav_bytes,
            "seconds": round(self.seconds, 3),
            "wav_suffix": self.wav_suffix,
        }


async def enqueue_compression(session: AsyncSession, *, call_id: int) -> RecordingCompression:
    """Queue the call's recordings for compression once (in the caller's transaction)."""
    existing = await get_compression(session, call_id=call_id)
    if existing is not None:
        return existing
    job = RecordingCompression(call_id=call_id, status=CompressionStatus.QUEUED, files={})
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # queued by another process between our read and our insert
        again = await get_compression(session, call_id=call_id)
        assert again is not None
        return again
    return job


async def get_compression(session: AsyncSession, *, call_id: int) -> RecordingCompression | None:
    return await session.scalar(
        select(RecordingCompression).where(RecordingCompression.call_id == call_id)
    )


async def claim_compression(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    lease_seconds: float,
    max_attempts: int,
    call_id: int | None = None,
) -> CompressionClaim | None:
    """Lease the oldest claimable job (or the given call's) to `worker`; None when there is
    none. A job whose lease ran out during its last allowed attempt is failed instead."""
    job = await leased_jobs.claim_next(
        session,
        RecordingCompression,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
        where=None if call_id is None else RecordingCompression.call_id == call_id,
    )
    if job is None:
        return None
    call = await session.get(Call, job.call_id)
    assert call is not None  # a job's call is never deleted before the job (foreign key)
    recordings = {c: getattr(call, c) for c in RECORDING_COLUMNS if getattr(call, c)}
    return CompressionClaim(job.id, job.call_id, job.attempts, recordings, dict(job.files))


async def replace_recording(
    session: AsyncSession,
    *,
    job_id: int,
    worker: str,
    call_id: int,
    column: str,
    wav: str,
    ogg: str,
    stored: StoredFile,
) -> bool | None:
    """Point the call's `column` at its Ogg and record the file, if the column still names
    `wav`; False when it changed meanwhile (erased, deleted by retention: the Ogg must go),
    None when the worker no longer holds the job (nothing written; the caller rolls back)."""
    if column not in RECORDING_COLUMNS:
        raise ValueError(f"not a recording column: {column}")
    job = await leased_jobs.holds(session, RecordingCompression, job_id=job_id, worker=worker)
    if job is None:
        return None
    switched = await session.execute(
        update(Call).where(Call.id == call_id, getattr(Call, column) == wav).values({column: ogg}),
        execution_options={"synchronize_session": False},
    )
    if cast("CursorResult[Any]", switched).rowcount != 1:
        return False
    job.files = {**job.files, column: stored.as_json()}
    job.wav_bytes = sum(int(f["wav_bytes"]) for f in job.files.values())
    job.stored_bytes = sum(int(f["bytes"]) for f in job.files.values())
    await session.flush()
    return True


async def renew_compression(
    session: AsyncSession, *, job_id: int, worker: str, until: datetime
) -> bool:
    return await leased_jobs.renew(
        session, RecordingCompression, job_id=job_id, worker=worker, until=until
    )


async def finish_compression(
    session: AsyncSession, *, job_id: int, worker: str, now: datetime
) -> bool:
    """Mark the job done; False if the worker lost its lease meanwhile."""
    return await leased_jobs.finish(
        session, RecordingCompression, job_id=job_id, worker=worker, now=now
    )


async def fail_compression(
    session: AsyncSession,
    *,
    job_id: int,
    worker: str,
    now: datetime,
    error: str,
    max_attempts: int,
    retry_at: datetime,
) -> CompressionStatus | None:
    """A failed attempt: queued again for `retry_at`, or failed once out of attempts (the
    WAVs stay, playable as before). None if the worker no longer held the job."""
    return await leased_jobs.fail(
        session,
        RecordingCompression,
        job_id=job_id,
        worker=worker,
        now=now,
        error=error,
        max_attempts=max_attempts,
        retry_at=retry_at,
    )


@dataclass(frozen=True, slots=True)
class CompressionTotals:
    """What compression saved so far, and the work not done yet (for /metrics)."""

    jobs: dict[CompressionStatus, int]
    wav_bytes: int
    stored_bytes: int


async def compression_totals(session: AsyncSession) -> CompressionTotals:
    rows = await session.execute(
        select(RecordingCompression.status, func.count()).group_by(RecordingCompression.status)
    )
    jobs = dict.fromkeys(CompressionStatus, 0)
    for status, count in rows:
        jobs[status] = count
    sizes = (
        await session.execute(
            select(
                func.coalesce(func.sum(RecordingCompression.wav_bytes), 0),
                func.coalesce(func.sum(RecordingCompression.stored_bytes), 0),
            )
        )
    ).one()
    return CompressionTotals(jobs=jobs, wav_bytes=int(sizes[0]), stored_bytes=int(sizes[1]))


async def compression_backlog(session: AsyncSession) -> dict[CompressionStatus, int]:
    """Compression jobs queued, running and failed, for monitoring at every scrape: read from
    the status index, so it stays cheap when years of done jobs pile up (compression_totals
    sums them all)."""
    return await leased_jobs.unfinished(session, RecordingCompression)
