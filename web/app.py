"""The FastAPI application: its routes, pages and middleware. What runs beside them (the
bridge, pops, the dialer, transcription...) is this process's roles, started by the app's
lifespan (web/runtime/)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings
from web import (
    access,
    agent_day,
    agents,
    auth,
    call_controls,
    callbacks,
    calls,
    campaigns,
    complaints,
    customer_privacy,
    customers,
    dispositions,
    errors,
    health,
    imports,
    metrics,
    pages,
    qa,
    qa_feedback,
    qa_sampling,
    recordings,
    repairs,
    reports,
    supervision,
    users,
    wallboard,
    ws_messages,
)
from web import ws as websocket
from web.body_limit import BodyLimit
from web.proxy_headers import TrustedProxies
from web.runtime.process import ProcessPlan
from web.runtime.roles import ALL_ROLES, ProcessRole
from web.security_headers import SecurityHeaders
from web.text_input import NoNulText

ROUTERS = (
    health,
    auth,
    users,
    imports,
    customers,
    customer_privacy,
    callbacks,
    calls,
    call_controls,
    dispositions,
    recordings,
    qa,
    qa_sampling,
    qa_feedback,
    agents,
    agent_day,
    campaigns,
    complaints,
    repairs,
    access,
    wallboard,
    supervision,
    reports,
    metrics,
    websocket,
    pages,
)


def create_app(
    settings: Settings,
    *,
    clock: Clock,
    database: Database | None = None,
    with_bridge: bool = True,
    with_transcription: bool = True,
    roles: frozenset[ProcessRole] = ALL_ROLES,
) -> FastAPI:
    """Build the app. A Database passed in stays the caller's to close (tests, the demo);
    `with_bridge=False` runs without a PBX (API tests); transcription runs in this process
    when a Vosk model is configured and `with_transcription` is on. `roles`: this process's
    part of the whole (`callcentre serve --role`); with CALLCENTRE_REDIS_URL the roles of
    several processes work together, without it one process runs them all."""
    plan = ProcessPlan(
        settings=settings,
        database=database or Database(settings.database_url, echo=settings.database_echo),
        owns_database=database is None,
        clock=clock,
        roles=roles,
        with_bridge=with_bridge,
        with_transcription=with_transcription,
    )
    app = FastAPI(title="Call centre", version="0.1.0", lifespan=plan.run)
    app.state.settings = settings
    app.state.database = plan.database
    app.state.health_probes = {}
    app.state.runs_bridge = False  # set when the lifespan starts this process's bridge
    errors.install(app)
    pages.install_error_pages(app)  # browsers read HTML error pages; the API keeps its problems
    ws_messages.publish(app)  # the websocket's messages, as components of the document
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR, check_dir=False), name="static")
    # Outermost last: every answer, a refused body's included, carries the security headers.
    app.add_middleware(NoNulText)  # inside the body limit: reads bounded bodies only
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        larger={imports.UPLOAD_PATH: settings.max_import_bytes},
    )
    app.add_middleware(SecurityHeaders)
    # Outermost: the client's address and scheme (HSTS) are settled before anything reads them.
    app.add_middleware(TrustedProxies, proxies=settings.trusted_proxies)
    return app
