"""The FastAPI application: wires the database, the event bus, the PBX bridge and the routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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
from telephony.speech.status import transcription_status
from telephony.speech.worker import run_transcription_worker
from web import (
    agents,
    auth,
    callbacks,
    calls,
    campaigns,
    customers,
    errors,
    health,
    metrics,
    pages,
    qa,
    recordings,
    users,
    wallboard,
)
from web import ws as websocket
from web.agent_states import AgentStates
from web.metrics import Metrics
from web.outbox import Outbox
from web.pops import POP_EVENTS, PopService
from web.services import Services
from web.wallboard_feed import WALLBOARD_EVENTS, WallboardFeed

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, database: Database | None = None,
               clock: Clock | None = None, with_bridge: bool = True,
               with_transcription: bool = True) -> FastAPI:
    """Build the app. A Database passed in stays the caller's to close (tests, the demo);
    `with_bridge=False` runs without a PBX (API tests); transcription runs in this process
    when a Vosk model is configured and `with_transcription` is on."""
    owns_database = database is None
    db = database or Database(settings.database_url, echo=settings.database_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = Services(settings=settings, database=db, clock=clock or SystemClock(),
                       bus=EventBus(), outbox=Outbox(), metrics=Metrics())
        app.state.services = svc
        if with_bridge:
            svc.bridge = Bridge(settings, db, svc.bus, clock=svc.clock)
            svc.metrics.watch(svc.bridge.health)
            app.state.health_probes["pbx"] = svc.bridge.health
        svc.agent_states = AgentStates(
            svc, AgentPbxSync(svc.bridge, settings) if svc.bridge else None)
        pops = PopService(svc)
        app.state.pops = pops
        svc.bus.subscribe(pops.handle, name="screen-pops", types=POP_EVENTS)
        svc.bus.subscribe(svc.agent_states.handle, name="agent-states",
                          types=(CallEnded, QueueMembersResynced))

        async def attempts(event: CallEnded) -> None:
            await resolve_attempt(db, event.record, at=svc.clock.now())

        svc.bus.subscribe(attempts, name="attempt-outcomes", types=(CallEnded,))
        tasks = [asyncio.create_task(svc.agent_states.run_wrapup_timer(), name="wrapup-timer")]
        app.state.wallboard = WallboardFeed(svc)  # supervisors' wallboards, live
        svc.bus.subscribe(app.state.wallboard.handle, name="wallboard", types=WALLBOARD_EVENTS)
        tasks.append(asyncio.create_task(app.state.wallboard.run(), name="wallboard"))
        transcription = transcription_status(settings)
        app.state.health_probes["transcription"] = lambda: {"enabled": transcription.enabled,
                                                            "message": transcription.message}
        (log.info if transcription.enabled else log.warning)("%s", transcription.message)
        stop_worker = asyncio.Event()
        if transcription.enabled and with_transcription:
            tasks.append(asyncio.create_task(
                run_transcription_worker(db, settings, clock=svc.clock, stop=stop_worker),
                name="transcription"))
        if svc.bridge is not None:
            await svc.bridge.start()
            if settings.dialer_enabled:
                svc.dialer = Dialer(settings, db, svc.bridge, clock=svc.clock)
                app.state.health_probes["dialer"] = svc.dialer.health
                tasks.append(asyncio.create_task(svc.dialer.run(), name="dialer"))
        try:
            yield
        finally:
            stop_worker.set()
            for task in tasks:
                if task.get_name() != "transcription":
                    task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if svc.bridge is not None:
                await svc.bridge.stop()
            await svc.bus.close()
            if owns_database:
                await db.dispose()

    app = FastAPI(title="Call centre", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.database = db
    app.state.health_probes = {}
    errors.install(app)
    for module in (health, auth, users, customers, callbacks, calls, recordings, qa, agents,
                   campaigns, wallboard, metrics, websocket, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    return app
