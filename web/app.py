"""The FastAPI application: wires the database, the event bus, the PBX bridge and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from crm.bus import EventBus
from crm.clock import Clock, SystemClock
from crm.db import Database
from crm.settings import Settings
from telephony.agent_sync import AgentPbxSync
from telephony.attempt_outcomes import resolve_attempt
from telephony.bridge import Bridge, QueueMembersResynced
from telephony.dialer import Dialer
from telephony.events import CallEnded
from telephony.process_name import process_name
from telephony.speech.status import transcription_status
from telephony.speech.worker import run_transcription_worker
from web import (
    access,
    agents,
    auth,
    callbacks,
    calls,
    campaigns,
    complaints,
    customers,
    errors,
    health,
    metrics,
    pages,
    qa,
    recordings,
    repairs,
    reports,
    users,
    wallboard,
)
from web import ws as websocket
from web.agent_states import AgentStates
from web.body_limit import BodyLimit
from web.cluster import wiring
from web.cluster.roles import ALL_ROLES, Role
from web.deadline_alerts import DeadlineAlerts
from web.metrics import Metrics
from web.outbox import Outbox
from web.pops import POP_EVENTS, PopService
from web.security_headers import SecurityHeaders
from web.services import Services
from web.text_input import NoNulText
from web.wallboard_feed import WALLBOARD_EVENTS, WallboardFeed

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    database: Database | None = None,
    clock: Clock | None = None,
    with_bridge: bool = True,
    with_transcription: bool = True,
    roles: frozenset[Role] = ALL_ROLES,
) -> FastAPI:
    """Build the app. A Database passed in stays the caller's to close (tests, the demo);
    `with_bridge=False` runs without a PBX (API tests); transcription runs in this process
    when a Vosk model is configured and `with_transcription` is on. `roles`: this process's
    part of the whole (`callcentre serve --role`); with CALLCENTRE_REDIS_URL the roles of
    several processes work together (web/cluster/wiring.py), without it one process runs
    them all."""
    owns_database = database is None
    db = database or Database(settings.database_url, echo=settings.database_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services(
            settings=settings,
            database=db,
            clock=clock or SystemClock(),
            bus=EventBus(),
            outbox=Outbox(),
            metrics=Metrics(),
        )
        app.state.services = svc
        cluster = wiring.connect(settings)
        # The bridge's bus is the web's one in a single process; with Redis, the bridge's
        # events reach every web process's bus through the events stream.
        bridge_bus = svc.bus if cluster is None else EventBus()
        if with_bridge and Role.BRIDGE in roles:
            svc.bridge = Bridge(settings, db, bridge_bus, clock=svc.clock)
            svc.metrics.watch(svc.bridge.health)
            app.state.health_probes["pbx"] = svc.bridge.health
            app.state.runs_bridge = True
        tasks: list[asyncio.Task[Any]] = []
        if cluster is not None:
            svc.events = cluster.events
            svc.dialer_board = cluster.dialers
            tasks.append(asyncio.create_task(cluster.events.run_sender(), name="events-out"))
            if with_bridge and svc.bridge is None:
                svc.remote_pbx = wiring.remote_pbx(cluster, settings)
                if Role.WEB in roles:  # the web role keeps its view of the PBX fresh
                    app.state.health_probes["pbx"] = svc.remote_pbx.health
        svc.agent_states = AgentStates(
            svc, AgentPbxSync(svc.bridge, settings) if svc.bridge else svc.remote_pbx
        )
        if Role.WEB in roles:
            pops = PopService(svc)
            app.state.pops = pops
            svc.bus.subscribe(pops.handle, name="screen-pops", types=POP_EVENTS)
            if cluster is not None:
                wiring.wire_web(cluster, svc, tasks)
        if Role.BRIDGE in roles:
            bridge_bus.subscribe(
                svc.agent_states.handle,
                name="agent-states",
                types=(CallEnded, QueueMembersResynced),
            )

            async def attempts(event: CallEnded) -> None:
                await resolve_attempt(db, event.record, at=svc.clock.now())

            bridge_bus.subscribe(attempts, name="attempt-outcomes", types=(CallEnded,))
            tasks.append(
                asyncio.create_task(svc.agent_states.run_wrapup_timer(), name="wrapup-timer")
            )
            if cluster is not None and svc.bridge is not None:
                wiring.wire_bridge(cluster, svc, svc.bridge, bridge_bus, tasks)
        if Role.WEB in roles:
            app.state.deadline_alerts = DeadlineAlerts(svc)
            tasks.append(
                asyncio.create_task(app.state.deadline_alerts.run(), name="deadline-alerts")
            )
            app.state.wallboard = WallboardFeed(svc)  # supervisors' wallboards, live
            svc.bus.subscribe(app.state.wallboard.handle, name="wallboard", types=WALLBOARD_EVENTS)
            tasks.append(asyncio.create_task(app.state.wallboard.run(), name="wallboard"))
        transcription = transcription_status(settings)
        app.state.health_probes["transcription"] = lambda: {
            "enabled": transcription.enabled,
            "message": transcription.message,
        }
        (log.info if transcription.enabled else log.warning)("%s", transcription.message)
        stop_worker = asyncio.Event()
        if transcription.enabled and with_transcription and Role.WORKER in roles:
            tasks.append(
                asyncio.create_task(
                    wiring.run_stream_worker(cluster, svc, stop_worker)
                    if cluster is not None
                    else run_transcription_worker(
                        db,
                        settings,
                        clock=svc.clock,
                        stop=stop_worker,
                        lease_seconds=settings.transcription_lease_seconds,
                    ),
                    name="transcription",
                )
            )
        if svc.bridge is not None:
            await svc.bridge.start()
        follower: Bridge | None = None
        if with_bridge and Role.DIALER in roles and settings.dialer_enabled:
            if svc.bridge is None:  # the dialer's own AMI session: it follows, never stores
                follower = Bridge(settings, db, EventBus(), clock=svc.clock, records_calls=False)
                app.state.health_probes["pbx"] = follower.health  # its own AMI session
                await follower.start()
            svc.dialer = Dialer(
                settings,
                db,
                svc.bridge or follower,  # type: ignore[arg-type]
                clock=svc.clock,
            )
            app.state.health_probes["dialer"] = svc.dialer.health
            tasks.append(asyncio.create_task(svc.dialer.run(), name="dialer"))
            if cluster is not None:  # for the campaign pages of the other processes
                tasks.append(
                    asyncio.create_task(
                        cluster.dialers.publish(process_name(), svc.dialer.health),
                        name="dialer-board",
                    )
                )
        # Start-up's objects (≈300,000 in a loaded server) leave the collector's scans: a full
        # collection over them stalled the loop 150–300 ms, which screen pops felt (bench/).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            stop_worker.set()
            for task in tasks:
                if task.get_name() != "transcription":
                    task.cancel()
            for task in tasks:
                # redis-py can swallow a cancel that lands while a blocking read times out:
                # cancel again until the task is done, or shutdown waits forever.
                while task.get_name() != "transcription" and not task.done():
                    task.cancel()
                    await asyncio.wait({task}, timeout=0.5)
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for bridge in (svc.bridge, follower):
                if bridge is not None:
                    await bridge.stop()
                    await bridge.bus.close()
            await svc.bus.close()
            if Role.WEB in roles:
                await app.state.pops.close()  # messages still in its agents' lanes
            if cluster is not None:
                await cluster.close()
            if owns_database:
                await db.dispose()

    app = FastAPI(title="Call centre", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.database = db
    app.state.health_probes = {}
    app.state.runs_bridge = False  # set when the lifespan starts this process's bridge
    errors.install(app)
    for module in (
        health,
        auth,
        users,
        customers,
        callbacks,
        calls,
        recordings,
        qa,
        agents,
        campaigns,
        complaints,
        repairs,
        access,
        wallboard,
        reports,
        metrics,
        websocket,
        pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    # Outermost last: every answer, a refused body's included, carries the security headers.
    app.add_middleware(NoNulText)  # inside the body limit: reads bounded bodies only
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    return app
