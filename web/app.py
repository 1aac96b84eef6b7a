"""The FastAPI application: wires the database, the event bus, the PBX bridge and the routes."""

from __future__ import annotations

import asyncio
import contextlib
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
from telephony.events import CallEnded
from web import agents, auth, callbacks, calls, customers, errors, health, metrics, pages, users
from web import ws as websocket
from web.agent_states import AgentStates
from web.metrics import Metrics
from web.outbox import Outbox
from web.pops import POP_EVENTS, PopService
from web.services import Services


def create_app(settings: Settings, *, database: Database | None = None,
               clock: Clock | None = None, with_bridge: bool = True) -> FastAPI:
    """Build the app. A Database passed in stays the caller's to close (tests, the demo);
    `with_bridge=False` runs without a PBX (API tests)."""
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
        timer = asyncio.create_task(svc.agent_states.run_wrapup_timer(), name="wrapup-timer")
        if svc.bridge is not None:
            await svc.bridge.start()
        try:
            yield
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
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
    for module in (health, auth, users, customers, callbacks, calls, agents, metrics, websocket,
                   pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    return app
