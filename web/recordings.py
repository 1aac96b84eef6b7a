"""Recordings, read only through the server: by the roles allowed to (agents their own calls,
other departments a callback's call under the manager's grant), every listen audited once per
user, call and login session whatever ranges the player asks for, and only from the
recordings directory whatever path the PBX reported (found, and fetched from the PBX when
configured, by `telephony.recordings.files.RecordingFiles`)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse

from crm.access import service as access
from crm.audit import service as audit
from crm.calls import service as calls
from crm.recordings.models import AudioFormat
from crm.users.models import Role
from telephony.recordings.errors import (
    RecordingError,
    RecordingFetchError,
    RecordingNotFound,
    RecordingRefused,
    RecordingUnreadable,
)
from telephony.recordings.files import RecordingFiles
from telephony.recordings.mixing import MixError, mix, prune_mixes
from web.auth import Caller, require
from web.errors import answers, file_answer
from web.params import IdPath
from web.services import Services, services

if TYPE_CHECKING:
    from crm.access.models import AccessGrant
    from crm.calls.models import Call

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/calls", tags=["recordings"])
listeners = require(Role.QA, Role.SUPERVISOR, Role.AGENT, Role.DEPARTMENT)
LEGS = ("mixed", "agent", "customer")


async def _find(files: RecordingFiles, stored: str | None) -> Path | None:
    """The leg's file (fetched from the PBX if configured); None when the call has no such
    recording, or it is neither here nor on the PBX (yet)."""
    if not stored:
        return None
    try:
        return await asyncio.to_thread(files.find, stored)
    except RecordingNotFound:
        return None


async def _file(call: Call, leg: str, files: RecordingFiles, now: datetime) -> Path | None:
    if leg == "agent":
        return await _find(files, call.recording_agent)
    if leg == "customer":
        return await _find(files, call.recording_customer)
    mixed = await _find(files, call.recording)
    if mixed is not None:
        return mixed
    agent = await _find(files, call.recording_agent)
    customer = await _find(files, call.recording_customer)
    if agent is None or customer is None:
        return agent or customer
    mixes = files.directory / ".mixed"
    target = mixes / f"call-{call.id}.wav"  # the same sound before and after compression
    if not target.is_file():
        try:
            await asyncio.to_thread(mix, agent, customer, target)
        except MixError as exc:
            raise RecordingUnreadable(f"call {call.id}: {exc}") from None
        await asyncio.to_thread(partial(prune_mixes, mixes, keep=target, now=now))
    return target


def _unavailable(call: Call, exc: RecordingError) -> HTTPException:
    """Refused paths and failed fetches: the detail goes to the log, not to the browser."""
    log.warning("call %s: recording not served: %s", call.id, exc)
    if isinstance(exc, RecordingRefused):
        status, code, message = (
            404,
            "recording_refused",
            "the PBX reported a path for this recording that is never served; see the log",
        )
    elif isinstance(exc, RecordingFetchError):
        status, code, message = (
            502,
            "recording_fetch_failed",
            "the recording could not be fetched from the PBX; try again later",
        )
    else:
        status, code, message = (
            500,
            "recording_unreadable",
            "the recording cannot be read on the server; see the log",
        )
    return HTTPException(status, [{"field": None, "code": code, "message": message}])


REFUSALS = {
    "not_your_call": "agents may only open their own calls",
    "no_grant": "other departments hear a callback's recording only under the manager's grant",
    "forbidden": "this role does not hear recordings",
}


def refusal(role: Role, caller_id: int, call: Call, grant: AccessGrant | None) -> str | None:
    """Why this user may not hear or read the call, or None when they may: QA and supervisors
    every call, agents their own, other departments a callback's call under a grant."""
    if role in (Role.QA, Role.SUPERVISOR):
        return None
    if role is Role.AGENT:
        return None if call.agent_id == caller_id else "not_your_call"
    if role is Role.DEPARTMENT:
        return None if grant is not None else "no_grant"
    return "forbidden"


def _refused(code: str) -> HTTPException:
    return HTTPException(403, [{"field": None, "code": code, "message": REFUSALS[code]}])


async def readable_call(svc: Services, caller: Caller, call_id: int) -> Call:
    """The call, if this user may hear and read it (see `refusal`)."""
    call, _ = await _call_and_grant(svc, caller, call_id)
    return call


async def _call_and_grant(
    svc: Services, caller: Caller, call_id: int, *, request: Request | None = None
) -> tuple[Call, AccessGrant | None]:
    """The call and the grant a department user hears it under; a department's refused
    attempt is audited, like a refused read of callback records."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        call = await calls.get(session, call_id=call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id}")
        grant = None
        if caller.role is Role.DEPARTMENT:
            grant = await access.grant_for_call(
                session, user_id=caller.id, call_id=call.id, now=now
            )
        code = refusal(caller.role, caller.id, call, grant)
        if code == "no_grant":
            await audit.record(
                session,
                actor=caller.user.username,
                user_id=caller.id,
                action="recording.listen_refused",
                entity_type="call",
                entity_id=call.id,
                ip=request.client.host if request and request.client else None,
                at=now,
            )
    if code is not None:
        raise _refused(code)
    return call, grant


@router.get(
    "/{call_id}/recording",
    response_class=FileResponse,
    responses=file_answer(
        tuple(f.media_type for f in AudioFormat),
        "the recording, Ogg Opus or WAV (Range requests answer 206)",
    )
    | answers(502, "the recording could not be fetched from the PBX (recording_fetch_failed)"),
)
async def recording(
    call_id: IdPath,
    request: Request,
    leg: str = Query("mixed"),
    caller: Caller = Depends(listeners),
    svc: Services = Depends(services),
) -> FileResponse:
    """The recording as stored: Ogg Opus once compressed after transcription, WAV before
    (and a mix of two legs); Range requests allowed, so players can seek."""
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
    call, grant = await _call_and_grant(svc, caller, call_id, request=request)
    try:
        path = await _file(call, leg, svc.recording_files, svc.clock.now())
    except RecordingError as exc:
        raise _unavailable(call, exc) from None
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
    # Whatever the Range header says: a listen is audited once, not each seek.
    await audit.record_listen(
        svc.database,
        actor=caller.user.username,
        user_id=caller.id,
        call_id=call.id,
        login_session_id=caller.session_id,
        detail={"leg": leg} | ({"grant_id": grant.id} if grant else {}),
        ip=request.client.host if request.client else None,
        at=svc.clock.now(),
    )
    return FileResponse(
        path,
        media_type=AudioFormat.of_path(path.name).media_type,
        headers={"Cache-Control": "private, no-store"},
    )
