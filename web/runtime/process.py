"""One `callcentre serve` process from start to stop: its services and bus, then each of its
roles started by its own function on one AsyncExitStack, so that shutdown undoes start-up in
reverse (the dialer first, the database last).

The order matters where roles meet: the bridge object exists before any role (agent states
tell the PBX through it), the web role subscribes before the bridge's AMI session opens (no
event is missed), and the dialer starts last, on a bridge that is running.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.datastructures import State

from crm.bus import Bus, LocalBus
from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings
from telephony.agent_sync import AgentPbxSync
from telephony.dialer_board import DialerBoard
from telephony.pbx_requests import RemotePbx
from telephony.speech.status import TranscriptionStatus, transcription_status
from web.agent_states import AgentStates
from web.events import ExtensionsChanged
from web.metrics import Metrics
from web.outbox import Outbox
from web.runtime.bridge_role import open_bridge, start_bridge
from web.runtime.dialer_role import start_dialer
from web.runtime.event_stream import EventStream, RedisStreamBus
from web.runtime.heap_trim import HeapTrim, glibc_malloc_trim
from web.runtime.lifetimes import start_task, subscribe
from web.runtime.roles import ALL_ROLES, ProcessRole
from web.runtime.web_role import start_web
from web.runtime.worker_role import start_worker
from web.services import Services

log = logging.getLogger(__name__)


def redis_read_timeout(settings: Settings) -> float:
    """How long a read from Redis may wait: past the longest blocking command the parts send
    (the events stream blocks 5 s; a PBX request waits its action timeout + 12 s for the
    bridge's answer, telephony/pbx_requests.py). redis-py 8 reads with a 5 s socket timeout by
    default, which cut those waits short ("Timeout reading from ...": a quiet stream dropped
    and re-read every 5 s, a slow call control failed while the bridge still did it)."""
    return max(60.0, settings.ami_action_timeout + 30.0)


def connect_redis(settings: Settings) -> Redis | None:
    """The Redis client this process's parts share, or None when Redis is not configured. A
    Redis gone silent is noticed by the health check and TCP keepalive, not by reads timing
    out in the middle of a blocking command."""
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url.get_secret_value(),
        decode_responses=True,
        health_check_interval=30,
        socket_timeout=redis_read_timeout(settings),
        socket_connect_timeout=5.0,
        socket_keepalive=True,
    )


def open_bus(redis: Redis | None, clock: Clock) -> Bus:
    """The one choice of bus: in-process alone, the Redis events stream when processes share
    the work (CALLCENTRE_REDIS_URL)."""
    return LocalBus() if redis is None else RedisStreamBus(EventStream(redis, clock=clock))


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """What create_app was asked to run in this process."""

    settings: Settings
    database: Database
    owns_database: bool  # a Database passed in stays the caller's to close (tests, the demo)
    clock: Clock
    roles: frozenset[ProcessRole] = ALL_ROLES
    with_bridge: bool = True  # False: no PBX at all (API tests)
    with_transcription: bool = True

    @asynccontextmanager
    async def run(self, app: FastAPI) -> AsyncIterator[None]:
        """The app's lifespan: start the roles, serve, stop them in reverse."""
        async with AsyncExitStack() as stack:
            svc = await self.open_services(stack)
            app.state.services = svc
            await self.start_roles(stack, svc, app.state)
            trim = HeapTrim(glibc_malloc_trim())
            svc.metrics.watch_heap(trim)
            start_task(stack, trim.run(), name="heap-trim")
            # Start-up's objects (≈300,000 in a loaded server) leave the collector's scans: a
            # full collection over them stalled the loop 150–300 ms, which screen pops felt.
            gc.freeze()
            stack.callback(gc.unfreeze)
            yield

    async def open_services(self, stack: AsyncExitStack) -> Services:
        """What every role shares; the database, Redis and the bus close last."""
        if self.owns_database:
            stack.push_async_callback(self.database.dispose)
        redis = connect_redis(self.settings)
        if redis is not None:
            stack.push_async_callback(redis.aclose)
        bus = open_bus(redis, self.clock)
        stack.push_async_callback(bus.close)
        return Services(
            settings=self.settings,
            database=self.database,
            clock=self.clock,
            bus=bus,
            outbox=Outbox(clock=self.clock, retention_seconds=self.settings.resume_seconds),
            metrics=Metrics(),
            redis=redis,
            dialer_board=DialerBoard(redis) if redis is not None else None,
        )

    async def start_roles(self, stack: AsyncExitStack, svc: Services, state: State) -> None:
        """Each role this process plays, in the order the module's docstring explains."""
        roles, settings = self.roles, self.settings
        # Any process may be told a user changed: its kept extension directory reads again.
        subscribe(
            stack, svc.bus, svc.extensions.changed, name="extensions", types=(ExtensionsChanged,)
        )
        if self.with_bridge and ProcessRole.BRIDGE in roles:
            svc.bridge = open_bridge(svc, state)
        elif self.with_bridge and svc.redis is not None:  # the PBX through its bridge
            svc.remote_pbx = RemotePbx(
                svc.redis,
                settings.pbx_id,
                clock=svc.clock,
                action_timeout=settings.ami_action_timeout,
            )
        svc.agent_states = AgentStates(
            svc, AgentPbxSync(svc.bridge, settings) if svc.bridge else svc.remote_pbx
        )
        if ProcessRole.WEB in roles:
            await start_web(stack, svc, state)
        if ProcessRole.BRIDGE in roles:
            await start_bridge(stack, svc)
        transcription = self.probe_transcription(state)
        if ProcessRole.WORKER in roles and self.with_transcription and transcription.enabled:
            await start_worker(stack, svc)
        if ProcessRole.DIALER in roles and self.with_bridge and settings.dialer_enabled:
            await start_dialer(stack, svc, state)

    def probe_transcription(self, state: State) -> TranscriptionStatus:
        """Whether transcription can run here (a Vosk model configured), in /healthz and the
        log, whichever roles this process plays."""
        transcription = transcription_status(self.settings)
        state.health_probes["transcription"] = lambda: {
            "enabled": transcription.enabled,
            "message": transcription.message,
        }
        (log.info if transcription.enabled else log.warning)("%s", transcription.message)
        return transcription
