"""The leased-job queue (`crm.leased_jobs`) as both kinds of job use it, through their own
services, on SQLite and PostgreSQL: one claim under concurrent claimers, a lease that runs
out is taken over, a finish by a worker that lost its lease writes nothing, and a failure
waits for its retry and is failed once out of attempts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.clock import FixedClock
from crm.db import Database
from crm.leased_jobs import JobStatus, LeasedJobMixin
from crm.recordings import service as compression
from crm.transcripts import service as transcription

LEASE = 60.0


@dataclass(frozen=True)
class Held:
    job_id: int
    attempt: int


@dataclass(frozen=True)
class Kind:
    """One kind of job, through the public functions its worker calls."""

    name: str
    enqueue: Callable[[AsyncSession, Call], Awaitable[object]]
    claim: Callable[[AsyncSession, str, datetime, int], Awaitable[Held | None]]
    renew: Callable[..., Awaitable[bool]]
    finish: Callable[..., Awaitable[bool]]
    fail: Callable[..., Awaitable[JobStatus | None]]
    get: Callable[..., Awaitable[LeasedJobMixin | None]]
    backlog: Callable[[AsyncSession], Awaitable[dict[JobStatus, int]]]


async def _claim_transcription(
    session: AsyncSession, worker: str, now: datetime, max_attempts: int
) -> Held | None:
    job = await transcription.claim_next_job(
        session, worker=worker, now=now, lease_seconds=LEASE, max_attempts=max_attempts
    )
    assert job is None or job.started_at == now  # stamped at every claim
    return None if job is None else Held(job.id, job.attempts)


async def _claim_compression(
    session: AsyncSession, worker: str, now: datetime, max_attempts: int
) -> Held | None:
    claim = await compression.claim_compression(
        session, worker=worker, now=now, lease_seconds=LEASE, max_attempts=max_attempts
    )
    return None if claim is None else Held(claim.job_id, claim.attempt)


async def _transcription_backlog(session: AsyncSession) -> dict[JobStatus, int]:
    return (await transcription.backlog(session)).jobs


async def _enqueue_compression(session: AsyncSession, call: Call) -> object:
    return await compression.enqueue_compression(session, call_id=call.id)


KINDS = {
    "transcription": Kind(
        "transcription",
        transcription.enqueue_call,
        _claim_transcription,
        transcription.renew_lease,
        transcription.finish_job,
        transcription.fail_attempt,
        transcription.get_job,
        _transcription_backlog,
    ),
    "compression": Kind(
        "compression",
        _enqueue_compression,
        _claim_compression,
        compression.renew_compression,
        compression.finish_compression,
        compression.fail_compression,
        compression.get_compression,
        compression.compression_backlog,
    ),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


async def queue_one(database: Database, kind: Kind, linkedid: str = "1700000000.1") -> int:
    """A recorded, answered, ended call with its job queued; the call's id."""
    started = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    async with database.session() as session:
        call = Call(
            linkedid=linkedid,
            direction=Direction.INBOUND,
            started_at=started,
            answered_at=started + timedelta(seconds=4),
            ended_at=started + timedelta(seconds=30),
            outcome=CallOutcome.ANSWERED,
            ring_seconds=4.0,
            hung_up_by=HungUpBy.CUSTOMER,
            recording_agent=f"/rec/{linkedid}-agent.wav",
            recording_customer=f"/rec/{linkedid}-customer.wav",
        )
        session.add(call)
        await session.flush()
        assert await kind.enqueue(session, call) is not None
        return call.id


async def claim(
    database: Database, kind: Kind, worker: str, now: datetime, max_attempts: int = 3
) -> Held | None:
    async with database.session() as session:
        return await kind.claim(session, worker, now, max_attempts)


async def job_of(database: Database, kind: Kind, call_id: int) -> LeasedJobMixin:
    async with database.session() as session:
        job = await kind.get(session, call_id=call_id)
        assert job is not None
        return job


async def test_two_claimers_at_once_get_the_job_once(
    database_url: str, kind: Kind, clock: FixedClock
) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        call_id = await queue_one(first, kind)

        async def race(database: Database, worker: str) -> Held | None:
            async with database.session() as session:
                held = await kind.claim(session, worker, clock.now(), 3)
                await asyncio.sleep(0.05)  # hold the transaction while the other claims
                return held

        claims = await asyncio.gather(race(first, "a"), race(second, "b"))
        won = [held for held in claims if held is not None]
        assert len(won) == 1 and won[0].attempt == 1
        job = await job_of(first, kind, call_id)
        assert job.status is JobStatus.RUNNING and job.attempts == 1
        assert job.lease_owner == ("a" if claims[0] else "b")
        assert job.lease_expires_at == clock.now() + timedelta(seconds=LEASE)
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_lease_that_runs_out_is_taken_over_and_the_loser_writes_nothing(
    db: Database, kind: Kind, clock: FixedClock
) -> None:
    call_id = await queue_one(db, kind)
    now = clock.now()
    first = await claim(db, kind, "a", now)
    assert first is not None
    assert await claim(db, kind, "b", now + timedelta(seconds=LEASE - 1)) is None  # lease live
    async with db.session() as session:  # a renewal keeps it a while longer
        assert await kind.renew(
            session, job_id=first.job_id, worker="a", until=now + timedelta(seconds=2 * LEASE)
        )
    assert await claim(db, kind, "b", now + timedelta(seconds=LEASE + 1)) is None
    late = now + timedelta(seconds=2 * LEASE)
    taken = await claim(db, kind, "b", late)
    assert taken == Held(first.job_id, 2)  # another attempt

    async with db.session() as session:  # "a" comes back: nothing it does counts
        assert not await kind.renew(session, job_id=first.job_id, worker="a", until=late)
        assert not await kind.finish(session, job_id=first.job_id, worker="a", now=late)
        assert (
            await kind.fail(
                session,
                job_id=first.job_id,
                worker="a",
                now=late,
                error="too late",
                max_attempts=3,
                retry_at=late,
            )
            is None
        )
    job = await job_of(db, kind, call_id)
    assert (job.status, job.lease_owner, job.finished_at, job.last_error) == (
        JobStatus.RUNNING,
        "b",
        None,
        None,
    )
    async with db.session() as session:
        assert await kind.finish(session, job_id=first.job_id, worker="b", now=late)
    job = await job_of(db, kind, call_id)
    assert (job.status, job.lease_owner, job.lease_expires_at, job.finished_at) == (
        JobStatus.DONE,
        None,
        None,
        late,
    )
    assert await claim(db, kind, "c", late + timedelta(days=1)) is None


async def test_a_lease_run_out_on_the_last_attempt_fails_the_job(
    db: Database, kind: Kind, clock: FixedClock
) -> None:
    call_id = await queue_one(db, kind)
    now = clock.now()
    assert await claim(db, kind, "a", now, max_attempts=1) is not None
    assert await claim(db, kind, "b", now + timedelta(seconds=LEASE), max_attempts=1) is None
    job = await job_of(db, kind, call_id)
    assert job.status is JobStatus.FAILED and job.lease_owner is None
    assert job.last_error == (
        "the worker stopped during attempt 1 of 1 (its lease ran out); last error: none"
    )


async def test_a_failure_waits_for_its_retry_then_fails_out_of_attempts(
    db: Database, kind: Kind, clock: FixedClock
) -> None:
    call_id = await queue_one(db, kind)
    other = await queue_one(db, kind, linkedid="1700000000.2")
    now = clock.now()
    first = await claim(db, kind, "a", now, max_attempts=2)
    assert first is not None
    retry_at = now + timedelta(seconds=30)
    async with db.session() as session:
        status = await kind.fail(
            session,
            job_id=first.job_id,
            worker="a",
            now=now,
            error="x" * 5000,
            max_attempts=2,
            retry_at=retry_at,
        )
    assert status is JobStatus.QUEUED
    job = await job_of(db, kind, call_id)
    assert (job.not_before, job.lease_owner, len(job.last_error or "")) == (retry_at, None, 4000)

    # Before its retry time the other call's job is handed out instead, then nothing.
    early = now + timedelta(seconds=29)
    second_call = await claim(db, kind, "b", early, max_attempts=2)
    assert second_call is not None and second_call.job_id == (await job_of(db, kind, other)).id
    assert await claim(db, kind, "b", early, max_attempts=2) is None
    async with db.session() as session:
        counts = await kind.backlog(session)
    assert counts == {JobStatus.QUEUED: 1, JobStatus.RUNNING: 1, JobStatus.FAILED: 0}

    again = await claim(db, kind, "c", retry_at, max_attempts=2)
    assert again == Held(first.job_id, 2)
    async with db.session() as session:
        status = await kind.fail(
            session,
            job_id=first.job_id,
            worker="c",
            now=retry_at,
            error="still broken",
            max_attempts=2,
            retry_at=retry_at + timedelta(seconds=30),
        )
    assert status is JobStatus.FAILED
    job = await job_of(db, kind, call_id)
    assert (job.status, job.finished_at, job.not_before, job.last_error) == (
        JobStatus.FAILED,
        retry_at,
        None,
        "still broken",
    )
    async with db.session() as session:
        assert await kind.finish(session, job_id=second_call.job_id, worker="b", now=retry_at)
    assert await claim(db, kind, "d", retry_at + timedelta(days=1), max_attempts=2) is None
    async with db.session() as session:
        counts = await kind.backlog(session)
    assert counts == {JobStatus.QUEUED: 0, JobStatus.RUNNING: 0, JobStatus.FAILED: 1}
