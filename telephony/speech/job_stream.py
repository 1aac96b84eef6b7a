"""Transcription jobs handed to workers through a Redis stream (one consumer group).

The database stays the record of every job (`crm.transcripts`): the stream only says "job N
is ready", so a message lost or repeated costs nothing but a look at the job's row. Delivery
is at least once: a worker acknowledges a message after the job is stored (or found already
done); a worker that dies leaves its message pending, and another takes it over with
XAUTOCLAIM once it has been idle for a lease (a live worker keeps its message fresh while it
works, so only a dead one's is taken). The job's lease in the database decides who really
holds it, so a job delivered twice is still transcribed once. A sweeper (one worker at a
time, under a Redis lock) puts back on the stream any job that is claimable but has no live
message: retries that became due, jobs queued while Redis was away, jobs whose worker died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from crm.db_outage import database_unavailable
from crm.stopping import stop_task
from crm.transcripts.service import claimable_job_ids
from telephony.speech.worker import TranscriptionWorker

log = logging.getLogger(__name__)

JOBS_STREAM = "callcentre:transcription"
GROUP = "workers"
SWEEP_LOCK = "callcentre:transcription:sweeper"
MAX_WAIT_FOR_DUE = 30.0  # a job not due for longer is left to the sweeper


@dataclass(frozen=True, slots=True)
class JobMessage:
    entry_id: str
    job_id: int


class JobStream:
    def __init__(self, redis: Redis, *, stream: str = JOBS_STREAM, group: str = GROUP) -> None:
        self.redis = redis
        self.stream = stream
        self.group = group

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def add(self, job_ids: list[int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.xadd(self.stream, {"job": str(job_id)}, maxlen=100_000, approximate=True)
            await pipe.execute()

    async def read(self, consumer: str, *, block_ms: int) -> list[JobMessage]:
        batches: Any = await self.redis.xreadgroup(
            self.group, consumer, {self.stream: ">"}, count=1, block=block_ms
        )
        return [
            _message(entry_id, fields)
            for _stream, entries in batches or ()
            for entry_id, fields in entries
        ]

    async def reclaim(self, consumer: str, *, min_idle_ms: int) -> list[JobMessage]:
        """Take over one message a dead consumer left pending for at least `min_idle_ms`."""
        claimed: Any = await self.redis.xautoclaim(
            self.stream, self.group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=1
        )
        return [_message(entry_id, fields) for entry_id, fields in claimed[1] if fields]

    async def touch(self, consumer: str, message: JobMessage) -> None:
        """Reset the message's idle time: its worker is alive and still on it."""
        await self.redis.xclaim(
            self.stream,
            self.group,
            consumer,
            min_idle_time=0,
            message_ids=[message.entry_id],
            justid=True,
        )

    async def ack(self, message: JobMessage) -> None:
        await self.redis.xack(self.stream, self.group, message.entry_id)

    async def pending_job_ids(self) -> set[int]:
        """Jobs with a message read but not yet acknowledged (someone is on them)."""
        pending: Any = await self.redis.xpending_range(
            self.stream, self.group, min="-", max="+", count=10_000
        )
        ids = [p["message_id"] for p in pending]
        jobs: set[int] = set()
        for entry_id in ids:
            entries: Any = await self.redis.xrange(self.stream, entry_id, entry_id)
            for _id, fields in entries:
                with contextlib.suppress(KeyError, ValueError):
                    jobs.add(int(fields["job"]))
        return jobs


def lost_group(exc: BaseException) -> bool:
    """Redis answered that the consumer group does not exist: it restarted without its data
    (no persistence, or a new server). The group is made again; the sweeper re-announces
    the jobs whose entries went with it."""
    return isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP")


def _message(entry_id: object, fields: dict[str, str]) -> JobMessage:
    return JobMessage(str(entry_id), int(fields["job"]))


class StreamWorker:
    """Runs a TranscriptionWorker on the jobs the stream hands it."""

    def __init__(
        self,
        worker: TranscriptionWorker,
        stream: JobStream,
        *,
        block_ms: int = 2_000,
        sweep_seconds: float = 15.0,
    ) -> None:
        self.worker = worker
        self.stream = stream
        self.block_ms = block_ms
        self.sweep_seconds = sweep_seconds
        self.min_idle_ms = int(worker.lease_seconds * 1000)
        self.processed = 0

    @property
    def consumer(self) -> str:
        return self.worker.name

    async def run(
        self, *, stop: asyncio.Event | None = None, concurrency: int | None = None
    ) -> int:
        stop = stop or asyncio.Event()
        await self._until_ready(stop)
        loops = [self._loop(stop) for _ in range(concurrency or self.worker.pool.workers)]
        sweeper = asyncio.create_task(self._sweep_forever(stop))
        try:
            await asyncio.gather(*loops)
        finally:
            await stop_task(sweeper)
        return self.processed

    async def _until_ready(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.stream.ensure_group()
                return
            except RedisError as exc:
                log.warning("cannot reach Redis (%s); retrying", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                messages = await self.stream.reclaim(
                    self.consumer, min_idle_ms=self.min_idle_ms
                ) or await self.stream.read(self.consumer, block_ms=self.block_ms)
                for message in messages:
                    await self.handle(message)
            except Exception as exc:
                if lost_group(exc):
                    log.warning("the jobs stream has no group (Redis lost its data): making it")
                    with contextlib.suppress(RedisError):
                        await self.stream.ensure_group()
                    continue
                # Redis or the database is away: what was not acknowledged stays pending.
                if isinstance(exc, RedisError) or database_unavailable(exc):
                    log.warning("transcription worker: cannot take jobs (%s); retrying", _said(exc))
                else:
                    log.exception("transcription worker: cannot take jobs; retrying")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)

    async def handle(self, message: JobMessage) -> None:
        """Do the job if it is ours to do; acknowledge unless another worker holds it."""
        claim, outcome = await self.worker.claim_given(message.job_id)
        if claim is None and outcome.not_before is not None:
            wait = (outcome.not_before - self.worker.clock.now()).total_seconds()
            if wait > MAX_WAIT_FOR_DUE:
                await self.stream.ack(message)  # the sweeper brings it back when it is due
                return
            await self._wait_keeping(message, max(wait, 0.0) + 0.05)
            claim, outcome = await self.worker.claim_given(message.job_id)
        if claim is None:
            if outcome.held:
                return  # another worker's live lease: left pending, looked at again later
            await self.stream.ack(message)  # done, failed, or (not due) the sweeper's
            return
        await self.worker.process(
            claim, keep_alive=lambda: self.stream.touch(self.consumer, message)
        )
        await self.stream.ack(message)
        self.processed += 1

    async def _wait_keeping(self, message: JobMessage, seconds: float) -> None:
        """Wait, keeping the message ours meanwhile (we are alive, just early)."""
        clock = self.worker.clock
        end = clock.monotonic() + seconds
        while (left := end - clock.monotonic()) > 0:
            await self.stream.touch(self.consumer, message)
            await asyncio.sleep(min(left, self.min_idle_ms / 3000))

    async def _sweep_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("transcription sweeper failed; trying again later")
            # Compressions left over (a crash, a retry now due) live in the database only.
            while not stop.is_set() and await self.worker.compress_pending():
                pass

    async def sweep(self) -> int:
        """Put claimable jobs with no pending message back on the stream (one sweeper at a
        time); how many."""
        lock_ms = int(self.sweep_seconds * 1000)
        if not await self.stream.redis.set(SWEEP_LOCK, self.consumer, nx=True, px=lock_ms):
            return 0
        now = self.worker.clock.now()
        async with self.worker.database.session() as session:
            due = await claimable_job_ids(
                session, now=now, untouched_since=now - timedelta(seconds=self.sweep_seconds)
            )
        if not due:
            return 0
        pending = await self.stream.pending_job_ids()
        missing = [job_id for job_id in due if job_id not in pending]
        if missing:
            await self.stream.add(missing)
            log.info("sweeper: %d claimable job(s) put back on the stream", len(missing))
        return len(missing)


def _said(exc: BaseException) -> str:
    """An outage in one line (a traceback a second while Redis is down tells nothing more)."""
    return f"{type(exc).__name__}: {exc}"[:300]


async def publish_jobs(stream: JobStream, job_ids: list[int]) -> None:
    """Announce newly queued jobs; if Redis is away the sweeper announces them later."""
    try:
        await stream.add(job_ids)
    except RedisError as exc:
        log.warning(
            "could not announce %d transcription job(s) (%s); the sweeper will", len(job_ids), exc
        )
