"""Transcription jobs and transcripts in the database: enqueue, claim with a lease, finish.

The queue itself (claims under concurrency, leases, retries) is `crm.leased_jobs`, shared with
recording compression; this module says which jobs exist and stores what they produce.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import leased_jobs
from crm.batch_sizes import power_of_two_batches
from crm.calls.models import Call
from crm.clock import row_stamp
from crm.db import dialect_insert
from crm.transcripts.models import JobStatus, Leg, Transcript, TranscriptionJob


class RecordedCall(Protocol):
    """What says whether a call can be transcribed: a stored Call, or a snapshot of one."""

    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def recording_agent(self) -> str | None: ...
    @property
    def recording_customer(self) -> str | None: ...


def leg_recordings(call: RecordedCall) -> dict[Leg, str]:
    """The per-leg recording of each side that was recorded (the mixed file is not used)."""
    stored = {Leg.AGENT: call.recording_agent, Leg.CUSTOMER: call.recording_customer}
    return {leg: path for leg, path in stored.items() if path}


def transcribable(call: RecordedCall) -> bool:
    """Ended, answered (else nothing was said, nothing to score), with a leg recording."""
    return call.ended_at is not None and call.answered_at is not None and bool(leg_recordings(call))


async def enqueue_call(session: AsyncSession, call: Call) -> TranscriptionJob | None:
    """Queue the call for transcription once, due now; its job (new, or the one it had), or
    None if it cannot be transcribed."""
    if not transcribable(call):
        return None
    row = _job_row(call.id, not_before=None, stamp=row_stamp())
    await session.execute(_enqueue(session.get_bind().dialect.name), row)
    return await get_job(session, call_id=call.id)


async def enqueue_ended_calls(
    session: AsyncSession, calls: Mapping[int, RecordedCall], *, grace: timedelta
) -> list[int]:
    """Queue each of these calls (by id) that can be transcribed, once, in one statement;
    each waits `grace` after its end for the PBX to finish its files. A call already queued
    keeps its job as it is. The ids of the jobs this statement queued."""
    stamp = row_stamp()
    rows = [
        _job_row(call_id, not_before=(call.ended_at or stamp) + grace, stamp=stamp)
        for call_id, call in calls.items()
        if transcribable(call)
    ]
    if not rows:
        return []
    enqueue = _enqueue(session.get_bind().dialect.name)
    queued = [
        job_id
        for batch in power_of_two_batches(rows)
        for job_id in await session.scalars(enqueue, batch)
    ]
    return sorted(queued)


def _job_row(call_id: int, *, not_before: datetime | None, stamp: datetime) -> dict[str, Any]:
    """A queued job's row, every column given (defaults too: rows of one VALUES list agree)."""
    return {
        "call_id": call_id,
        "status": JobStatus.QUEUED,
        "attempts": 0,
        "not_before": not_before,
        "created_at": stamp,
        "updated_at": stamp,
    }


@functools.cache
def _enqueue(dialect: str) -> Any:
    """A job for a call, unless it has one (another process may queue it at the same time);
    returning its id when it made one: built once per dialect."""
    return (
        dialect_insert(dialect)(TranscriptionJob.__table__)
        .on_conflict_do_nothing(index_elements=["call_id"])
        .returning(TranscriptionJob.__table__.c.id)
    )


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


async def claim_next_job(
    session: AsyncSession, *, worker: str, now: datetime, lease_seconds: float, max_attempts: int
) -> TranscriptionJob | None:
    """Lease the oldest claimable job to `worker`, or None when there is nothing to do.

    A job whose lease ran out during its last allowed attempt is marked failed instead.
    """
    return await leased_jobs.claim_next(
        session,
        TranscriptionJob,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
    )


async def renew_lease(session: AsyncSession, *, job_id: int, worker: str, until: datetime) -> bool:
    """Extend the lease; False if the worker no longer holds the job (it was taken over)."""
    return await leased_jobs.renew(
        session, TranscriptionJob, job_id=job_id, worker=worker, until=until
    )


async def finish_job(
    session: AsyncSession, *, job_id: int, worker: str, now: datetime, note: str | None = None
) -> bool:
    """Mark the job done (`note`: a problem that did not stop it, e.g. scoring skipped).

    False if the worker lost its lease meanwhile: the caller must then roll back its writes.
    """
    return await leased_jobs.finish(
        session, TranscriptionJob, job_id=job_id, worker=worker, now=now, note=note
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
    return await leased_jobs.fail(
        session,
        TranscriptionJob,
        job_id=job_id,
        worker=worker,
        now=now,
        error=error,
        max_attempts=max_attempts,
        retry_at=retry_at,
    )


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


# What came of claiming one given transcription job (see `leased_jobs.Claim`).
JobClaim = leased_jobs.Claim[TranscriptionJob]


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
    return await leased_jobs.claim_given(
        session,
        TranscriptionJob,
        job_id=job_id,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
    )


async def claimable_job_ids(
    session: AsyncSession,
    *,
    now: datetime,
    untouched_since: datetime | None = None,
    limit: int = 1000,
) -> list[int]:
    """Transcription jobs a worker could claim now, oldest first (the queue's rules)."""
    return await leased_jobs.claimable_ids(
        session, TranscriptionJob, now=now, untouched_since=untouched_since, limit=limit
    )


@dataclass(frozen=True)
class Backlog:
    """The transcription work not done yet, for monitoring: jobs by status (done ones are not
    counted) and when the oldest still queued was queued."""

    jobs: dict[JobStatus, int]
    oldest_queued_at: datetime | None


async def backlog(session: AsyncSession) -> Backlog:
    """Jobs queued, running and failed (read from the status index), and the oldest queued."""
    return Backlog(
        jobs=await leased_jobs.unfinished(session, TranscriptionJob),
        oldest_queued_at=await leased_jobs.oldest_queued_at(session, TranscriptionJob),
    )
