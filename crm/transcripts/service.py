"""Transcription jobs and transcripts in the database: enqueue, claim with a lease, finish.

A job is claimed by one worker at a time. The claim is a guarded UPDATE (it only succeeds if
the row is still as it was read), so two workers never hold the same job, on SQLite as on
PostgreSQL; on PostgreSQL the candidate is also read `FOR UPDATE SKIP LOCKED`, so workers in
several processes pass each other instead of queueing on one row. A worker renews its lease
while it works; a lease that runs out (killed worker, server restart) makes the job claimable
again, and that new claim counts as another attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call
from crm.transcripts.models import JobStatus, Leg, Transcript, TranscriptionJob


def leg_recordings(call: Call) -> dict[Leg, str]:
    """The per-leg recording of each side that was recorded (the mixed file is not used)."""
    stored = {Leg.AGENT: call.recording_agent, Leg.CUSTOMER: call.recording_customer}
    return {leg: path for leg, path in stored.items() if path}


async def enqueue_call(session: AsyncSession, call: Call) -> TranscriptionJob | None:
    """Queue the call for transcription once; None if it is live, was never answered (nothing
    was said, nothing to score) or has no leg recording."""
    if call.ended_at is None or call.answered_at is None or not leg_recordings(call):
        return None
    existing = await get_job(session, call_id=call.id)
    if existing is not None:
        return existing
    job = TranscriptionJob(call_id=call.id, status=JobStatus.QUEUED)
    try:
        async with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another process queued it between our read and our insert
        return await get_job(session, call_id=call.id)
    return job


async def get_job(session: AsyncSession, *, call_id: int) -> TranscriptionJob | None:
    """The call's job, if it was ever queued."""
    return await session.scalar(select(TranscriptionJob).where(TranscriptionJob.call_id == call_id))


async def get_jobs(
    session: AsyncSession, *, status: JobStatus | None = None, limit: int = 100
) -> list[TranscriptionJob]:
    """Jobs, oldest first, optionally of one status (failed ones, for an operator)."""
    query = select(TranscriptionJob).order_by(TranscriptionJob.id).limit(limit)
    if status is not None:
        query = query.where(TranscriptionJob.status == status)
    return list(await session.scalars(query))


def _claimable(now: datetime) -> Any:
    waiting = and_(
        TranscriptionJob.status == JobStatus.QUEUED,
        or_(TranscriptionJob.not_before.is_(None), TranscriptionJob.not_before <= now),
    )
    abandoned = and_(
        TranscriptionJob.status == JobStatus.RUNNING,
        or_(TranscriptionJob.lease_expires_at.is_(None), TranscriptionJob.lease_expires_at <= now),
    )
    return or_(waiting, abandoned)


async def claim_next_job(
    session: AsyncSession, *, worker: str, now: datetime, lease_seconds: float, max_attempts: int
) -> TranscriptionJob | None:
    """Lease the oldest claimable job to `worker`, or None when there is nothing to do.

    A job whose lease ran out during its last allowed attempt is marked failed instead.
    """
    skipped: set[int] = set()
    while True:
        query = (
            select(TranscriptionJob)
            .where(_claimable(now))
            .order_by(TranscriptionJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skipped:
            query = query.where(TranscriptionJob.id.not_in(skipped))
        job = await session.scalar(query)
        if job is None:
            return None
        guard = and_(
            TranscriptionJob.id == job.id,
            TranscriptionJob.status == job.status,
            TranscriptionJob.attempts == job.attempts,
        )
        if job.status is JobStatus.RUNNING and job.attempts >= max_attempts:
            await _guarded_update(
                session,
                guard,
                status=JobStatus.FAILED,
                finished_at=now,
                lease_owner=None,
                lease_expires_at=None,
                last_error=f"the worker stopped during attempt "
                f"{job.attempts} of {max_attempts} (its lease "
                f"ran out); last error: {job.last_error or 'none'}",
            )
            skipped.add(job.id)
            continue
        claimed = await _guarded_update(
            session,
            guard,
            status=JobStatus.RUNNING,
            attempts=job.attempts + 1,
            lease_owner=worker,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=now,
            not_before=None,
        )
        if not claimed:  # SQLite: another worker took it between read and update
            skipped.add(job.id)
            continue
        await session.refresh(job)
        return job


async def _guarded_update(session: AsyncSession, guard: Any, **values: Any) -> bool:
    """UPDATE the job only if it still matches `guard`; whether it did."""
    result = await session.execute(
        update(TranscriptionJob).where(guard).values(**values),
        execution_options={"synchronize_session": False},
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def _held_by(job_id: int, worker: str) -> Any:
    return and_(
        TranscriptionJob.id == job_id,
        TranscriptionJob.status == JobStatus.RUNNING,
        TranscriptionJob.lease_owner == worker,
    )


async def renew_lease(session: AsyncSession, *, job_id: int, worker: str, until: datetime) -> bool:
    """Extend the lease; False if the worker no longer holds the job (it was taken over)."""
    return await _guarded_update(session, _held_by(job_id, worker), lease_expires_at=until)


async def finish_job(
    session: AsyncSession, *, job_id: int, worker: str, now: datetime, note: str | None = None
) -> bool:
    """Mark the job done (`note`: a problem that did not stop it, e.g. scoring skipped).

    False if the worker lost its lease meanwhile: the caller must then roll back its writes.
    """
    return await _guarded_update(
        session,
        _held_by(job_id, worker),
        status=JobStatus.DONE,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
        last_error=note,
    )


async def fail_attempt(
    session: AsyncSession,
    *,
    job_id: int,
    worker: str,
    now: datetime,
    error: str,
    max_attempts: int,
    retry_at: datetime,
) -> JobStatus | None:
    """Record a failed attempt: queued again for `retry_at`, or failed once out of attempts.

    Returns the job's new status, or None if the worker no longer held it.
    """
    job = await session.get(TranscriptionJob, job_id, populate_existing=True, with_for_update=True)
    if job is None or job.status is not JobStatus.RUNNING or job.lease_owner != worker:
        return None
    if job.attempts >= max_attempts:
        job.status, job.finished_at, job.not_before = JobStatus.FAILED, now, None
    else:
        job.status, job.not_before = JobStatus.QUEUED, retry_at
    job.last_error = error[:4000]
    job.lease_owner = job.lease_expires_at = None
    await session.flush()
    return job.status


async def get_transcripts(session: AsyncSession, *, call_id: int) -> list[Transcript]:
    """The call's transcripts, agent leg first."""
    rows = await session.scalars(select(Transcript).where(Transcript.call_id == call_id))
    return sorted(rows, key=lambda t: list(Leg).index(t.leg))


async def save_transcript(
    session: AsyncSession,
    *,
    call_id: int,
    leg: Leg,
    words: Sequence[dict[str, Any]],
    model: str,
    duration: float,
    file: str,
) -> Transcript:
    """Store one leg's transcript; an existing one for that leg is kept, never duplicated."""
    existing = await session.scalar(
        select(Transcript).where(Transcript.call_id == call_id, Transcript.leg == leg)
    )
    if existing is not None:
        return existing
    transcript = Transcript(
        call_id=call_id,
        leg=leg,
        words=list(words),
        model=model,
        duration=duration,
        file=file,
        text=" ".join(str(w["word"]) for w in words),
    )
    session.add(transcript)
    await session.flush()
    return transcript


@dataclass(frozen=True, slots=True)
class JobClaim:
    """What came of claiming one given job: `job` when it is now ours; otherwise `finished`
    (done or failed: nothing to do), `held` (another worker's lease is live) or `not_before`
    (a retry that is not due yet)."""

    job: TranscriptionJob | None = None
    finished: bool = False
    held: bool = False
    not_before: datetime | None = None


async def claim_job(
    session: AsyncSession,
    *,
    job_id: int,
    worker: str,
    now: datetime,
    lease_seconds: float,
    max_attempts: int,
) -> JobClaim:
    """Lease this job to `worker` if it is claimable (a job handed out by a queue: the same
    rules as `claim_next_job`, so a job delivered twice is still done once)."""
    job = await session.get(TranscriptionJob, job_id, populate_existing=True)
    if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
        return JobClaim(finished=True)
    if job.status is JobStatus.QUEUED and job.not_before is not None and job.not_before > now:
        return JobClaim(not_before=job.not_before)
    if (
        job.status is JobStatus.RUNNING
        and job.lease_expires_at is not None
        and job.lease_expires_at > now
    ):
        return JobClaim(held=True)
    guard = and_(
        TranscriptionJob.id == job.id,
        TranscriptionJob.status == job.status,
        TranscriptionJob.attempts == job.attempts,
    )
    if job.status is JobStatus.RUNNING and job.attempts >= max_attempts:
        await _guarded_update(
            session,
            guard,
            status=JobStatus.FAILED,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            last_error=f"the worker stopped during attempt {job.attempts} "
            f"of {max_attempts} (its lease ran out); last "
            f"error: {job.last_error or 'none'}",
        )
        return JobClaim(finished=True)
    if not await _guarded_update(
        session,
        guard,
        status=JobStatus.RUNNING,
        attempts=job.attempts + 1,
        lease_owner=worker,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
        started_at=now,
        not_before=None,
    ):
        return JobClaim(held=True)  # another worker claimed it between our read and update
    await session.refresh(job)
    return JobClaim(job=job)


async def claimable_job_ids(
    session: AsyncSession,
    *,
    now: datetime,
    untouched_since: datetime | None = None,
    limit: int = 1000,
) -> list[int]:
    """Jobs a worker could claim now (due, or abandoned by a worker), oldest first;
    `untouched_since`: only those unchanged since then (not just queued or claimed)."""
    query = select(TranscriptionJob.id).where(_claimable(now))
    if untouched_since is not None:
        query = query.where(TranscriptionJob.updated_at <= untouched_since)
    return list(await session.scalars(query.order_by(TranscriptionJob.id).limit(limit)))


@dataclass(frozen=True)
class Backlog:
    """The transcription work not done yet, for monitoring: jobs by status (done ones are not
    counted) and when the oldest still queued was queued."""

    jobs: dict[JobStatus, int]
    oldest_queued_at: datetime | None


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)


async def backlog(session: AsyncSession) -> Backlog:
    """Jobs queued, running and failed (read from the status index), and the oldest queued."""
    rows = await session.execute(
        select(TranscriptionJob.status, func.count())
        .where(TranscriptionJob.status.in_(UNFINISHED))
        .group_by(TranscriptionJob.status)
    )
    counts = dict.fromkeys(UNFINISHED, 0)
    for status, count in rows:
        counts[status] = count
    oldest = await session.scalar(
        select(func.min(TranscriptionJob.created_at)).where(
            TranscriptionJob.status == JobStatus.QUEUED
        )
    )
    return Backlog(jobs=counts, oldest_queued_at=oldest)
