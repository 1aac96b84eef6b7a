"""The worker role: transcribes and scores recorded calls; any number, on any machine. Jobs
are rows in the database either way; with Redis the workers learn of them from the jobs
stream, alone they poll the database. Each worker also applies the retention policies hourly
to the recordings on its machine (web.runtime.retention_schedule)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from redis.asyncio import Redis

from crm.stopping import stop_task
from telephony.speech.job_stream import JobStream, StreamWorker
from telephony.speech.status import open_pool
from telephony.speech.worker import TranscriptionWorker, run_transcription_worker
from web.runtime.retention_schedule import run_retention_schedule
from web.services import Services

log = logging.getLogger(__name__)


async def start_worker(stack: AsyncExitStack, svc: Services) -> None:
    """Transcribe until the stack unwinds; then the worker is asked to stop, and finishes
    the job in hand rather than being cancelled."""
    stop = asyncio.Event()
    if svc.redis is not None:
        work = from_the_jobs_stream(svc, svc.redis, stop)
    else:
        work = run_transcription_worker(
            svc.database,
            svc.settings,
            clock=svc.clock,
            stop=stop,
            lease_seconds=svc.settings.transcription_lease_seconds,
        )
    task = asyncio.create_task(work, name="transcription")
    retention = asyncio.create_task(run_retention_schedule(svc), name="retention")

    async def finish() -> None:
        stop.set()
        await stop_task(retention)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(finish)


async def from_the_jobs_stream(svc: Services, redis: Redis, stop: asyncio.Event) -> int:
    """Transcription jobs from the jobs stream until `stop` is set."""
    settings = svc.settings
    pool = await asyncio.to_thread(lambda: open_pool(settings, clock=svc.clock).start())
    worker = TranscriptionWorker(
        svc.database,
        settings,
        pool,
        clock=svc.clock,
        lease_seconds=settings.transcription_lease_seconds,
    )
    log.info("transcription worker %s takes jobs from Redis", worker.name)
    try:
        return await StreamWorker(worker, JobStream(redis)).run(stop=stop)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pool.close)
