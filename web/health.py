"""`GET /healthz`: is the database reachable and migrated, is Redis (when the processes share
the work through it), is the PBX connected, is there room on the recordings' disk. The same
probes feed /metrics (`callcentre_database_ok`, `callcentre_redis_connected`,
`callcentre_recordings_disk_*`)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, JsonValue

from migrations import head_revision, known_revision
from web.errors import OpenApiAnswers
from web.recordings_disk import RecordingsDisk

router = APIRouter()

PROBE_TIMEOUT = 2.0  # a dependency slower than this to answer a trivial request is not ok


async def database_health(request: Request) -> dict[str, Any]:
    database = request.app.state.database
    expected = head_revision()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            revision = await database.schema_revision()
    except Exception as exc:
        return {
            "ok": False,
            "dialect": database.dialect,
            "error": f"{type(exc).__name__}: run `callcentre db upgrade`?",
        }
    health: dict[str, Any] = {"ok": True, "dialect": database.dialect, "revision": revision}
    if revision == expected:
        return health
    if revision is not None and not known_revision(revision):
        # A newer release's migrations ran (they keep this release working: README, Upgrades)
        # and its processes are replacing this one's; a 503 would take every old web process
        # out of the load balancer at once.
        health["note"] = (
            f"schema at {revision}, newer than this code's {expected}: a newer release is "
            "being installed; replace this process with it"
        )
        return health
    health["ok"] = False
    health["error"] = f"schema at {revision}, code expects {expected}: run `callcentre db upgrade`"
    return health


async def redis_health(request: Request) -> dict[str, Any] | None:
    """Whether this process reaches Redis; None when it does not use Redis (one process)."""
    redis = request.app.state.services.redis  # the client every cluster part of it shares
    if redis is None:
        return None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await redis.ping()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True}


async def dependencies(request: Request) -> dict[str, dict[str, Any]]:
    """The database's and (when used) Redis's health, probed now, side by side."""
    db, redis = await asyncio.gather(database_health(request), redis_health(request))
    return {"database": db} if redis is None else {"database": db, "redis": redis}


def pbx_verdict(pbx: dict[str, Any] | None) -> str:
    """ok, degraded (disconnected, reconnecting) or error (the bridge gave up for good)."""
    if pbx is None or pbx.get("connected"):
        return "ok"
    return "error" if pbx.get("stopped") else "degraded"


class DatabaseHealth(BaseModel):
    ok: bool  # reachable, and migrated to the revision the code expects (or a newer one)
    dialect: str
    revision: str | None = None  # the schema's; absent when the database did not answer
    error: str | None = None  # absent when ok: what is wrong, and what to run
    note: str | None = None  # the schema is a newer release's: this process is to be replaced


class RedisHealth(BaseModel):
    ok: bool
    error: str | None = None  # absent when ok


class HealthOut(BaseModel):
    """What /healthz answers: a key appears only when it applies (`redis` when the processes
    share the work through it, a probe when this process runs what it watches)."""

    model_config = ConfigDict(extra="forbid")  # a new probe is declared here, not let through

    status: str  # ok, degraded or error
    database: DatabaseHealth
    redis: RedisHealth | None = None
    pbx: dict[str, JsonValue] | None = None  # the PBX connection's figures (bridge or relay)
    dialer: dict[str, JsonValue] | None = None
    transcription: dict[str, JsonValue] | None = None
    recordings_disk: RecordingsDisk  # free space below the warning level: degraded
    failing: list[str]  # database, redis, pbx, recordings_disk: what is not ok


HEALTH_ANSWERS: OpenApiAnswers = {
    503: {"model": HealthOut, "description": "this process cannot do its job (see `failing`)"}
}


@router.get(
    "/healthz",
    tags=["health"],
    response_model=HealthOut,
    response_model_exclude_unset=True,
    responses=HEALTH_ANSWERS,
)
async def healthz(request: Request) -> JSONResponse:
    """200 when this process can do its job. Without the database none can: 503. A process
    that runs the PBX bridge cannot without the PBX: 503 then, so a load balancer or a monitor
    sees it; a web process only degrades. Redis away is `degraded` (what crosses processes
    waits in queues and retries, nothing is lost), named in the body, not a 503 that would
    take every web process out of the load balancer at once. The recordings' disk short of
    room is `degraded` too: calls still connect, but recordings will soon fail."""
    body: dict[str, Any] = dict(await dependencies(request))
    disk = await request.app.state.services.recordings_disk.figures()
    body["recordings_disk"] = disk.model_dump()
    for name, probe in request.app.state.health_probes.items():
        body[name] = probe()
    db_ok = body["database"]["ok"]
    pbx = pbx_verdict(body.get("pbx"))
    if not db_ok:
        status = "error"
    elif pbx != "ok":
        status = pbx
    else:
        redis_ok = body.get("redis", {}).get("ok", True)
        status = "ok" if redis_ok and disk.ok else "degraded"
    body["failing"] = [
        name for name in ("database", "redis") if not body.get(name, {"ok": 1})["ok"]
    ]
    if pbx != "ok":
        body["failing"].append("pbx")
    if not disk.ok:
        body["failing"].append("recordings_disk")
    healthy = db_ok and (pbx == "ok" or not request.app.state.runs_bridge)
    health = HealthOut.model_validate({"status": status, **body})
    return JSONResponse(
        health.model_dump(mode="json", exclude_unset=True), status_code=200 if healthy else 503
    )
