"""What each role adds to a process when Redis joins several of them (see web/app.py).

Without Redis the process does everything with one in-memory bus, as it always did. With
Redis: the bridge's events go on the events stream (`events.py`) and every web process
hands them to its own bus; what a web process asks of the PBX goes through the bridge
(`pbx_commands.py`); transcription jobs are announced on the jobs stream and taken by the
workers (`telephony/speech/job_stream.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from crm.bus import EventBus
from crm.settings import Settings
from telephony.agent_sync import AgentPbxSync
from telephony.bridge import Bridge
from telephony.speech.job_stream import JobStream, StreamWorker, publish_jobs
from telephony.speech.status import open_pool
from telephony.speech.worker import TranscriptionWorker
from web import revocation
from web.cluster.codec import FORWARDED, UserMessage
from web.cluster.dialer_board import DialerBoard
from web.cluster.events import EventStream
from web.cluster.pbx_commands import PbxCommandServer, RemotePbx
from web.revocation import SocketsEnded
from web.services import Services

log = logging.getLogger(__name__)

Tasks = list[asyncio.Task[Any]]


@dataclass
class Cluster:
    redis: Redis
    events: EventStream
    jobs: JobStream
    dialers: DialerBoard

    async def close(self) -> None:
        await self.redis.aclose()


def connect(settings: Settings) -> Cluster | None:
    """The Redis side of this process, or None when Redis is not configured."""
    if settings.redis_url is None:
        return None
    redis = Redis.from_url(
        settings.redis_url.get_secret_value(), decode_responses=True, health_check_interval=30
    )
    return Cluster(redis, EventStream(redis), JobStream(redis), DialerBoard(redis))


def wire_bridge(
    cluster: Cluster, svc: Services, bridge: Bridge, bus: EventBus, tasks: Tasks
) -> None:
    """The bridge publishes what it sees, serves the web processes' PBX requests, keeps the
    PBX status fresh, and announces the transcription jobs its calls queue."""
    bus.subscribe(cluster.events.handle, name="to-redis", types=FORWARDED)
    commands = PbxCommandServer(cluster.redis, bridge, AgentPbxSync(bridge, svc.settings))
    tasks.append(asyncio.create_task(commands.run(), name="pbx-commands"))
    tasks.append(asyncio.create_task(commands.publish_status(), name="pbx-status"))

    async def announce(job_ids: list[int]) -> None:
        await publish_jobs(cluster.jobs, job_ids)

    bridge.store.on_jobs_queued = announce


def wire_web(cluster: Cluster, svc: Services, tasks: Tasks) -> None:
    """The web process follows the events stream into its own bus, and delivers the
    messages meant for users whose websocket it holds (or may hold on their return)."""

    async def deliver(message: UserMessage) -> None:
        svc.outbox.push(message.user_id, message.kind, message.payload)

    svc.bus.subscribe(deliver, name="user-messages", types=(UserMessage,))

    async def end_sockets(ended: SocketsEnded) -> None:
        await revocation.from_stream(svc, ended)

    svc.bus.subscribe(end_sockets, name="sockets-ended", types=(SocketsEnded,))
    tasks.append(asyncio.create_task(cluster.events.follow(svc.bus.publish), name="events-in"))
    if svc.remote_pbx is not None:
        tasks.append(asyncio.create_task(svc.remote_pbx.run(), name="pbx-status"))


def remote_pbx(cluster: Cluster, settings: Settings) -> RemotePbx:
    return RemotePbx(cluster.redis, settings.pbx_id, action_timeout=settings.ami_action_timeout)


async def run_stream_worker(cluster: Cluster, svc: Services, stop: asyncio.Event) -> int:
    """Transcription jobs from the jobs stream until `stop` is set."""
    settings = svc.settings
    pool = await asyncio.to_thread(lambda: open_pool(settings).start())
    worker = TranscriptionWorker(
        svc.database,
        settings,
        pool,
        clock=svc.clock,
        lease_seconds=settings.transcription_lease_seconds,
    )
    log.info("transcription worker %s takes jobs from Redis", worker.name)
    try:
        return await StreamWorker(worker, cluster.jobs).run(stop=stop)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pool.close)
