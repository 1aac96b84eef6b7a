"""Compression jobs in the database: queued with a call's transcripts, claimed with a lease,
each replaced file recorded with the guarded switch of the call's recording column.

Like transcription jobs (`crm.transcripts.service`), a claim is a guarded UPDATE, so two
workers never hold one job; a lease that runs out (a killed worker) makes the job claimable
again and counts as another attempt. The call's column is switched from the WAV to the Ogg
only if it still names that WAV: a recording erased or deleted by retention meanwhile is not
brought back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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


def _claimable(now: datetime) -> Any:
    waiting = and_(
        RecordingCompression.status == CompressionStatus.QUEUED,
        or_(RecordingCompression.not_before.is_(None), RecordingCompression.not_before <= now),
    )
    abandoned = and_(
        RecordingCompression.status == CompressionStatus.RUNNING,
        or_(
            RecordingCompression.lease_expires_at.is_(None),
            RecordingCompression.lease_expires_at <= now,
        ),
    )
    return or_(waiting, abandoned)


async def _guarded(session: AsyncSession, guard: Any, **values: Any) -> bool:
    result = await session.execute(
        update(RecordingCompression).where(guard).values(**values),
        execution_options={"synchronize_session": False},
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def _held_by(job_id: int, worker: str) -> Any:
    return and_(
        RecordingCompression.id == job_id,
        RecordingCompression.status == CompressionStatus.RUNNING,
        RecordingCompression.lease_owner == worker,
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
    skipped: set[int] = set()
    while True:
        query = (
            select(RecordingCompression)
            .where(_claimable(now))
            .order_by(RecordingCompression.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if call_id is not None:
            query = query.where(RecordingCompression.call_id == call_id)
        if skipped:
            query = query.where(RecordingCompression.id.not_in(skipped))
        job = await session.scalar(query)
        if job is None:
            return None
        guard = and_(
            RecordingCompression.id == job.id,
            RecordingCompression.status == job.status,
            RecordingCompression.attempts == job.attempts,
        )
        skipped.add(job.id)
        if job.status is CompressionStatus.RUNNING and job.attempts >= max_attempts:
            await _guarded(
                session,
                guard,
                status=CompressionStatus.FAILED,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=f"the worker stopped during attempt {job.attempts} of "
                f"{max_attempts} (its lease ran out); last error: {job.last_error or 'none'}",
            )
            continue
        if not await _guarded(
            session,
            guard,
            status=CompressionStatus.RUNNING,
            attempts=job.attempts + 1,
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            not_before=None,
        ):
            continue  # SQLite: another worker took it between read and update
        call = await session.get(Call, job.call_id)
        assert call is not None  # a job's call is never deleted before the job (foreign key)
        recordings = {c: getattr(call, c) for c in RECORDING_COLUMNS if getattr(call, c)}
        return CompressionClaim(job.id, job.call_id, job.attempts + 1, recordings, dict(job.files))


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
    job = await session.get(RecordingCompression, job_id, populate_existing=True)
    if job is None or job.status is not CompressionStatus.RUNNING or job.lease_owner != worker:
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
    return await _guarded(session, _held_by(job_id, worker), lease_expires_at=until)


async def finish_compression(
    session: AsyncSession, *, job_id: int, worker: str, now: datetime
) -> bool:
    """Mark the job done; False if the worker lost its lease meanwhile."""
    return await _guarded(
        session,
        _held_by(job_id, worker),
        status=CompressionStatus.DONE,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
        last_error=None,
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
    job = await session.get(
        RecordingCompression, job_id, populate_existing=True, with_for_update=True
    )
    if job is None or job.status is not CompressionStatus.RUNNING or job.lease_owner != worker:
        return None
    if job.attempts >= max_attempts:
        job.status, job.finished_at, job.not_before = CompressionStatus.FAILED, now, None
    else:
        job.status, job.not_before = CompressionStatus.QUEUED, retry_at
    job.last_error = error[:4000]
    job.lease_owner = job.lease_expires_at = None
    await session.flush()
    return job.status


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


UNFINISHED = (CompressionStatus.QUEUED, CompressionStatus.RUNNING, CompressionStatus.FAILED)


async def compression_backlog(session: AsyncSession) -> dict[CompressionStatus, int]:
    """Compression jobs queued, running and failed, for monitoring at every scrape: read from
    the status index, so it stays cheap when years of done jobs pile up (compression_totals
    sums them all)."""
    rows = await session.execute(
        select(RecordingCompression.status, func.count())
        .where(RecordingCompression.status.in_(UNFINISHED))
        .group_by(RecordingCompression.status)
    )
    counts = dict.fromkeys(UNFINISHED, 0)
    for status, count in rows:
        counts[status] = count
    return counts
