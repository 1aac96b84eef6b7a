"""`GET /healthz`: is the database reachable and migrated, is the PBX connected."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from migrations import head_revision

router = APIRouter()


async def database_health(request: Request) -> dict[str, Any]:
    database = request.app.state.database
    expected = head_revision()
    try:
        async with database.engine.connect() as connection:
            revision = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
    except Exception as exc:
        return {
            "ok": False,
            "dialect": database.dialect,
            "error": f"{type(exc).__name__}: run `callcentre db upgrade`?",
        }
    ok = revision == expected
    health: dict[str, Any] = {"ok": ok, "dialect": database.dialect, "revision": revision}
    if not ok:
        health["error"] = (
            f"schema at {revision}, code expects {expected}: run `callcentre db upgrade`"
        )
    return health


@router.get("/healthz", tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    db = await database_health(request)
    body: dict[str, Any] = {"status": "ok" if db["ok"] else "error", "database": db}
    for name, probe in request.app.state.health_probes.items():
        body[name] = probe()
    return JSONResponse(body, status_code=200 if db["ok"] else 503)
