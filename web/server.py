"""Running the app until stopped: under uvicorn (with its `websockets` implementation) when
this process serves the web, otherwise just its other roles until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, Literal

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings
from web import log_redaction
from web.app import create_app
from web.health_server import serve_health
from web.log_format import UVICORN_TO_ROOT
from web.runtime.roles import ALL_ROLES, ProcessRole

log = logging.getLogger(__name__)
# The browser sends nothing over /ws the server needs (web/ws.py refuses text over 4 KiB);
# uvicorn's default would buffer frames of 16 MiB.
WS_MAX_FRAME_BYTES = 64 * 1024


def web_config(
    app: Any,
    *,
    host: str,
    port: int,
    lifespan: Literal["on", "off"] = "on",
    log_format: str = "text",
    log_level: str = "info",
) -> uvicorn.Config:
    """How uvicorn serves the app (tests serve it the same way). `log_format` json: uvicorn's
    lines go to the root logger's JSON handler (web/log_format.py) instead of its own."""
    log_redaction.install()  # uvicorn logs websocket paths with their query strings
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=UVICORN_TO_ROOT if log_format == "json" else LOGGING_CONFIG,
        ws="websockets-sansio",
        ws_max_size=WS_MAX_FRAME_BYTES,
        # No per-message compression: the messages are a few KiB on a LAN, and deflating each
        # one for each socket took a tenth of the event loop while calls rang (py-spy, 500
        # agents at 20 calls/s), besides a zlib state kept per open socket.
        ws_per_message_deflate=False,
        lifespan=lifespan,
        log_level=log_level,
        access_log=False,
        # X-Forwarded-* are read by the app, from CALLCENTRE_TRUSTED_PROXIES alone
        # (web/proxy_headers.py), not from uvicorn's default of trusting 127.0.0.1.
        proxy_headers=False,
    )


async def serve_forever(
    settings: Settings,
    *,
    clock: Clock,
    host: str,
    port: int,
    database: Database | None = None,
    roles: frozenset[ProcessRole] = ALL_ROLES,
    health_port: int | None = None,
) -> None:
    """`health_port`: where a process without the web role serves /healthz and /metrics."""
    app = create_app(settings, clock=clock, database=database, roles=roles)
    if ProcessRole.WEB in roles:
        server = uvicorn.Server(
            web_config(app, host=host, port=port, log_format=settings.log_format)
        )
        serving = asyncio.create_task(server.serve())
        try:
            await asyncio.shield(serving)
        except asyncio.CancelledError:  # Ctrl-C (web/cli.py): uvicorn's own orderly exit,
            server.should_exit = True  # not a cancel in its main loop (two tracebacks)
            await serving
            raise
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on this platform
            loop.add_signal_handler(signum, stop.set)
    async with app.router.lifespan_context(app):
        log.info("running as %s", ", ".join(sorted(r.value for r in roles)))
        if health_port is None:
            await stop.wait()
        else:
            await serve_health(app, host=host, port=health_port, stop=stop)
