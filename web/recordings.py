"""Recordings, read only through the server: by the roles allowed to, every listen audited,
and only from the recordings directory whatever path the PBX reported."""

from __future__ import annotations

import asyncio
import wave
from array import array
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse

from crm.audit import service as audit
from crm.calls.models import Call
from crm.users.models import Role
from web.auth import Caller, require
from web.services import Services, services

router = APIRouter(prefix="/api/calls", tags=["recordings"])
listeners = require(Role.QA, Role.SUPERVISOR, Role.AGENT)
LEGS = ("mixed", "agent", "customer")


def inside(stored: str | None, directory: Path) -> Path | None:
    """The file for a stored recording path, found under `directory` only (relative path, or
    the file name alone); never a file elsewhere on the machine."""
    if not stored:
        return None
    root = directory.resolve()
    path = Path(stored)
    candidates = [] if path.is_absolute() else [root / path]
    candidates.append(root / path.name)
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.is_relative_to(root) and resolved.is_file():
            return resolved
    return None


def mix(first: Path, second: Path, target: Path) -> None:
    """Both legs in one mono file (they are recorded side by side at the same rate)."""
    with wave.open(str(first)) as a, wave.open(str(second)) as b:
        if (a.getframerate(), a.getsampwidth(), a.getnchannels()) != (
            b.getframerate(),
            b.getsampwidth(),
            b.getnchannels(),
        ) or a.getsampwidth() != 2:
            raise ValueError("the legs' formats differ")
        rate = a.getframerate()
        left, right = (
            array("h", a.readframes(a.getnframes())),
            array("h", b.readframes(b.getnframes())),
        )
    if len(left) < len(right):
        left, right = right, left
    mixed = array("h", left)
    for i, sample in enumerate(right):
        mixed[i] = max(-32768, min(32767, mixed[i] + sample))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    with wave.open(str(partial), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(mixed.tobytes())
    partial.replace(target)


async def _file(call: Call, leg: str, directory: Path) -> Path | None:
    if leg == "agent":
        return inside(call.recording_agent, directory)
    if leg == "customer":
        return inside(call.recording_customer, directory)
    mixed = inside(call.recording, directory)
    if mixed is not None:
        return mixed
    agent = inside(call.recording_agent, directory)
    customer = inside(call.recording_customer, directory)
    if agent is None or customer is None:
        return agent or customer
    target = directory.resolve() / ".mixed" / f"call-{call.id}.wav"
    if not target.is_file():
        await asyncio.to_thread(mix, agent, customer, target)
    return target


async def readable_call(svc: Services, caller: Caller, call_id: int) -> Call:
    """The call, if this user may hear and read it: agents only their own calls."""
    async with svc.database.session() as session:
        call = await session.get(Call, call_id)
    if call is None:
        raise HTTPException(404, f"no call {call_id}")
    if caller.role is Role.AGENT and call.agent_id != caller.id:
        raise HTTPException(
            403,
            [
                {
                    "field": None,
                    "code": "not_your_call",
                    "message": "agents may only open their own calls",
                }
            ],
        )
    return call


@router.get("/{call_id}/recording", response_class=FileResponse)
async def recording(
    call_id: int,
    request: Request,
    leg: str = Query("mixed"),
    caller: Caller = Depends(listeners),
    svc: Services = Depends(services),
) -> FileResponse:
    """The recording as WAV (Range requests allowed, so players can seek)."""
    if leg not in LEGS:
        raise HTTPException(
            422,
            [
                {
                    "field": "leg",
                    "code": "invalid_leg",
                    "message": f"leg is one of {', '.join(LEGS)}",
                }
            ],
        )
    call = await readable_call(svc, caller, call_id)
    path = await _file(call, leg, svc.settings.recordings_dir)
    if path is None:
        raise HTTPException(
            404,
            [
                {
                    "field": None,
                    "code": "no_recording",
                    "message": "this call has no such recording here",
                }
            ],
        )
    range_header = request.headers.get("range", "")
    if not range_header or range_header.replace(" ", "").startswith("bytes=0-"):
        async with svc.database.session() as session:  # a listen, not each seek
            await audit.record(
                session,
                actor=caller.user.username,
                user_id=caller.id,
                action="recording.listen",
                entity_type="call",
                entity_id=call.id,
                detail={"leg": leg},
                ip=request.client.host if request.client else None,
                at=svc.clock.now(),
            )
    return FileResponse(
        path, media_type="audio/wav", headers={"Cache-Control": "private, no-store"}
    )
