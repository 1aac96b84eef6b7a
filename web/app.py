"""The FastAPI application: wires the database, the event bus, the PBX bridge and the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm.bus import EventBus
from crm.clock import Clock, SystemClock
from crm.db import Database
from crm.errors import DomainError
from crm.settings import Settings
from telephony.bridge import Bridge
from web import health


def create_app(settings: Settings, *, database: Database | None = None,
               clock: Clock | None = None, with_bridge: bool = True) -> FastAPI:
    """Build the app. A Database passed in stays the caller's to close (tests, the demo);
    `with_bridge=False` runs without a PBX (API tests)."""
    owns_database = database is None
    db = database or Database(settings.database_url, echo=settings.database_echo)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = EventBus()
        app.state.bus = bus
        bridge = Bridge(settings, db, bus, clock=app.state.clock) if with_bridge else None
        app.state.bridge = bridge
        if bridge is not None:
            app.state.health_probes["pbx"] = bridge.health
            await bridge.start()
        try:
            yield
        finally:
            if bridge is not None:
                await bridge.stop()
            await bus.close()
            if owns_database:
                await db.dispose()

    app = FastAPI(title="Call centre", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.database = db
    app.state.clock = clock or SystemClock()
    app.state.health_probes = {}

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=exc.status)

    app.include_router(health.router)
    return app
