"""Running the app until stopped: under uvicorn (with its `websockets` implementation) when
this process serves the web, otherwise just its other roles until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import uvicorn

from crm.db import Database
from crm.settings import Settings
from web.app import create_app
from web.cluster.roles import ALL_ROLES, Role

log = logging.getLogger(__name__)


async def serve_forever(
    settings: Settings,
    *,
    host: str,
    port: int,
    database: Database | None = None,
    roles: frozenset[Role] = ALL_ROLES,
) -> None:
    app = create_app(settings, database=database, roles=roles)
    if Role.WEB in roles:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            ws="websockets-sansio",
            lifespan="on",
            log_level="info",
            access_log=False,
        )
        await uvicorn.Server(config).serve()
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on this platform
            loop.add_signal_handler(signum, stop.set)
    async with app.router.lifespan_context(app):
        log.info("running as %s", ", ".join(sorted(r.value for r in roles)))
        await stop.wait()
