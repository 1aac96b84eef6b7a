"""Leased jobs: the queue mechanics shared by transcription and recording compression jobs.

A job row (one per call) carries the columns of `LeasedJobMixin`. A job is claimed by one
worker at a time: the claim is a guarded UPDATE (it only succeeds if the row is still as it was
read), so two workers never hold the same job, on SQLite as on PostgreSQL; on PostgreSQL the
candidate is also read `FOR UPDATE SKIP LOCKED`, so workers in several processes pass each
other instead of queueing on one row. A worker renews its lease while it works; a lease that
runs out (killed worker, server restart) makes the job claimable again, and that new claim
counts as another attempt. Finishing or failing needs the lease: a worker that lost it writes
nothing. What a job does with its work (transcripts, replaced recordings) stays with its
domain's service; these functions take the job's model class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from sqlalchemy import CursorResult, String, Text, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import enum_type


class JobStatus(StrEnum):
    QUEUED = "queued"  # waiting, or waiting for a retry (see not_before)
    RUNNING = "running"  # leased to a worker until lease_expires_at
    DONE = "done"
    FAILED = "failed"  # out of attempts; last_error says why


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)


class LeasedJobMixin:
    """The columns of a leased job (the model adds `id`, its own columns and its indexes)."""

    # Whether the model has a `started_at` column, stamped at every claim.
    stamps_start: ClassVar[bool] = False

    if TYPE_CHECKING:  # declared by each model; here so the functions below type-check
        id: Mapped[int]
        updated_at: Mapped[datetime]
        created_at: Mapped[datetime]

    status: Mapped[JobStatus] = mapped_column(enum_type(JobStatus), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)  # counted when a worker claims the job
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None]  # a retry waits until then
    lease_owner: Mapped[str | None] = mapped_column(String(128))  # worker id holding it
    lease_expires_at: Mapped[datetime | None]  # past this, another worker may take it over
    finished_at: Mapped[datetime | None]


J = TypeVar("J", bound=LeasedJobMixin)


def claimable(model: type[LeasedJobMixin], now: datetime) -> Any:
    """Due (queued, its retry time reached) or abandoned (running, its lease run out)."""
    waiting = and_(
        model.status == JobStatus.QUEUED,
        or_(model.not_before.is_(None), model.not_before <= now),
    )
    abandoned = and_(
        model.status == JobStatus.RUNNING,
        or_(model.lease_expires_at.is_(None), model.lease_expires_at <= now),
    )
    return or_(waiting, abandoned)


async def _guarded_update(
    session: AsyncSession, model: type[LeasedJobMixin], guard: Any, **values: Any
) -> bool:
    """UPDATE the job only if it still matches `guard`; whether it did."""
    result = await session.execute(
        update(model).where(guard).values(**values),
        execution_options={"synchronize_session": False},
    )
    return cast("CursorResult[Any]", result).rowcount == 1


def _held_by(model: type[LeasedJobMixin], job_id: int, worker: str) -> Any:
    return and_(
        model.id == job_id,
        model.status == JobStatus.RUNNING,
        model.lease_owner == worker,
    )


async def _take(
    session: AsyncSession,
    job: LeasedJobMixin,
    *,
    worker: str,
    now: datetime,
    lease_seconds: float,
    max_attempts: int,
) -> bool | None:
    """Lease a claimable job as read: True when it is now `worker`'s, False when another worker
    changed it between our read and our update, None when it was abandoned during its last
    allowed attempt and is failed instead."""
    model = type(job)
    guard = and_(
        model.id == job.id,
        model.status == job.status,
        model.attempts == job.attempts,
    )
    if job.status is JobStatus.RUNNING and job.attempts >= max_attempts:
        await _guarded_update(
            session,
            model,
            guard,
            status=JobStatus.FAILED,
            finished_at=now,
            lease_owner=None,
            lease_expires_at=None,
            last_error=f"the worker stopped during attempt {job.attempts} of "
            f"{max_attempts} (its lease ran out); last error: {job.last_error or 'none'}",
        )
        return None
    values: dict[str, Any] = {
        "status": JobStatus.RUNNING,
        "attempts": job.attempts + 1,
        "lease_owner": worker,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
        "not_before": None,
    }
    if model.stamps_start:
        values["started_at"] = now
    if not await _guarded_update(session, model, guard, **values):
        return False
    await session.refresh(job)
    return True


async def claim_next(
    session: AsyncSession,
    model: type[J],
    *,
    worker: str,
    now: datetime,
    lease_seconds: float,
    max_attempts: int,
    where: Any = None,
) -> J | None:
    """Lease the oldest claimable job (matching `where`, if given) to `worker`, or None when
    there is nothing to do. A job whose lease ran out during its last allowed attempt is
    marked failed instead."""
    skipped: set[int] = set()
    while True:
        query = (
            select(model)
            .where(claimable(model, now))
            .order_by(model.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if where is not None:
            query = query.where(where)
        if skipped:
            query = query.where(model.id.not_in(skipped))
        job = await session.scalar(query)
        if job is None:
            return None
        skipped.add(job.id)
        taken = await _take(
            session,
            job,
            worker=worker,
            now=now,
            lease_seconds=lease_seconds,
            max_attempts=max_attempts,
        )
        if taken:  # False: SQLite, another worker took it between read and update
            return job


@dataclass(frozen=True)
class Claim(Generic[J]):
    """What came of claiming one given job: `job` when it is now ours; otherwise `finished`
    (done or failed: nothing to do), `held` (another worker's lease is live) or `not_before`
    (a retry that is not due yet)."""

    job: J | None = None
    finished: bool = False
    held: bool = False
    not_before: datetime | None = None


async def claim_given(
    session: AsyncSession,
    model: type[J],
    *,
    job_id: int,
    worker: str,
    now: datetime,
    lease_seconds: float,
    max_attempts: int,
) -> Claim[J]:
    """Lease this job to `worker` if it is claimable (a job handed out by a queue: the same
    rules as `claim_next`, so a job delivered twice is still done once)."""
    job = await session.get(model, job_id, populate_existing=True)
    if job is None or job.status in (JobStatus.DONE, JobStatus.FAILED):
        return Claim(finished=True)
    if job.status is JobStatus.QUEUED and job.not_before is not None and job.not_before > now:
        return Claim(not_before=job.not_before)
    if (
        job.status is JobStatus.RUNNING
        and job.lease_expires_at is not None
        and job.lease_expires_at > now
    ):
        return Claim(held=True)
    taken = await _take(
        session,
        job,
        worker=worker,
        now=now,
        lease_seconds=lease_seconds,
        max_attempts=max_attempts,
    )
    if taken is None:
        return Claim(finished=True)
    if not taken:
        return Claim(held=True)  # another worker claimed it between our read and update
    return Claim(job=job)


async def holds(session: AsyncSession, model: type[J], *, job_id: int, worker: str) -> J | None:
    """The job, read afresh, if `worker` still holds it; None otherwise."""
    job = await session.get(model, job_id, populate_existing=True)
    if job is None or job.status is not JobStatus.RUNNING or job.lease_owner != worker:
        return None
    return job


async def renew(
    session: AsyncSession, model: type[LeasedJobMixin], *, job_id: int, worker: str, until: datetime
) -> bool:
    """Extend the lease; False if the worker no longer holds the job (it was taken over)."""
    return await _guarded_update(
        session, model, _held_by(model, job_id, worker), lease_expires_at=until
    )


async def finish(
    session: AsyncSession,
    model: type[LeasedJobMixin],
    *,
    job_id: int,
    worker: str,
    now: datetime,
    note: str | None = None,
) -> bool:
    """Mark the job done (`note`: a problem that did not stop it). False if the worker lost its
    lease meanwhile: nothing is written, and the caller must roll back its own writes."""
    return await _guarded_update(
        session,
        model,
        _held_by(model, job_id, worker),
        status=JobStatus.DONE,
        finished_at=now,
        lease_owner=None,
        lease_expires_at=None,
        last_error=note,
    )


async def fail(
    session: AsyncSession,
    model: type[LeasedJobMixin],
    *,
    job_id: int,
    worker: str,
    now: datetime,
    error: str,
    max_attempts: int,
    retry_at: datetime,
) -> JobStatus | None:
    """Record a failed attempt: queued again for `retry_at`, or failed once out of attempts.
    Returns the job's new status, or None if the worker no longer held it."""
    job = await session.get(model, job_id, populate_existing=True, with_for_update=True)
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


async def claimable_ids(
    session: AsyncSession,
    model: type[LeasedJobMixin],
    *,
    now: datetime,
    untouched_since: datetime | None = None,
    limit: int = 1000,
) -> list[int]:
    """Jobs a worker could claim now (due, or abandoned by a worker), oldest first;
    `untouched_since`: only those unchanged since then (not just queued or claimed)."""
    query = select(model.id).where(claimable(model, now))
    if untouched_since is not None:
        query = query.where(model.updated_at <= untouched_since)
    return list(await session.scalars(query.order_by(model.id).limit(limit)))


async def unfinished(session: AsyncSession, model: type[LeasedJobMixin]) -> dict[JobStatus, int]:
    """Jobs queued, running and failed, read from the status index (cheap at every scrape
    however many done jobs pile up)."""
    rows = await session.execute(
        select(model.status, func.count())
        .where(model.status.in_(UNFINISHED))
        .group_by(model.status)
    )
    counts = dict.fromkeys(UNFINISHED, 0)
    for status, count in rows:
        counts[status] = count
    return counts


async def oldest_queued_at(session: AsyncSession, model: type[LeasedJobMixin]) -> datetime | None:
    """When the oldest job still queued was queued."""
    return await session.scalar(
        select(func.min(model.created_at)).where(model.status == JobStatus.QUEUED)
    )
