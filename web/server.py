"""Running the app under uvicorn (with its `websockets` implementation) until stopped."""

from __future__ import annotations

import uvicorn

from crm.db import Database
from crm.settings import Settings
from web.app import create_app


async def serve_forever(settings: Settings, *, host: str, port: int,
                        database: Database | None = None) -> None:
    app = create_app(settings, database=database)
    config = uvicorn.Config(app, host=host, port=port, ws="websockets-sansio", lifespan="on",
                            log_level="info", access_log=False)
    await uvicorn.Server(config).serve()
