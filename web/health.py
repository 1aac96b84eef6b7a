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


def pbx_verdict(pbx: dict[str, Any] | None) -> str:
    """ok, degraded (disconnected, reconnecting) or error (the bridge gave up for good)."""
    if pbx is None or pbx.get("connected"):
        return "ok"
    return "error" if pbx.get("stopped") else "degraded"


@router.get("/healthz", tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    """200 when this process can do its job. A process that runs the PBX bridge cannot without
    the PBX: 503 then, so a load balancer or a monitor sees it; a web process only degrades."""
    db = await database_health(request)
    body: dict[str, Any] = {"database": db}
    for name, probe in request.app.state.health_probes.items():
        body[name] = probe()
    pbx = pbx_verdict(body.get("pbx"))
    status = "error" if not db["ok"] else pbx
    healthy = db["ok"] and (pbx == "ok" or not request.app.state.runs_bridge)
    return JSONResponse({"status": status, **body}, status_code=200 if healthy else 503)
