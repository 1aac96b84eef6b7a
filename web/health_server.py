"""/healthz and /metrics for a process that serves no web (`serve --role bridge|worker|dialer
--health-port N`): a monitor or an orchestrator's probe sees each process, not only the web
ones. Nothing else is served on that port: no API, no pages, no websockets."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from web import health, metrics
from web.log_format import UVICORN_TO_ROOT


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The process's own SIGTERM/SIGINT handling stops it (see web/server.py), not
        uvicorn's."""
        yield


def health_app(app: FastAPI) -> FastAPI:
    """An app with only /healthz and /metrics, reading the running app's state."""
    probe = FastAPI(title="Call centre health", docs_url=None, redoc_url=None, openapi_url=None)
    probe.include_router(health.router)
    probe.include_router(metrics.router)
    probe.state = app.state
    return probe


async def serve_health(app: FastAPI, *, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `health_app(app)` until `stop` is set."""
    server = _Server(
        uvicorn.Config(
            health_app(app),
            host=host,
            port=port,
            lifespan="off",
            log_level="warning",
            # JSON logs: uvicorn's lines join the root logger's handler (web/log_format.py).
            log_config=(
                UVICORN_TO_ROOT if app.state.settings.log_format == "json" else LOGGING_CONFIG
            ),
            proxy_headers=False,
        )
    )
    serving = asyncio.create_task(server.serve())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    stopping.cancel()
    await serving
