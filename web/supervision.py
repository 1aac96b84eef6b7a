"""Supervisors act on agents from the wallboard: listen to, whisper to or barge into an agent's
live call (their own phone is rung into ChanSpy, telephony/supervision.py), pause an agent with
a reason, put them back to ready, log them out of the queues. Every use is audited; the agent
is told of a pause or a log-out (their state changes), never of a listener."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from crm.agents.models import AgentStatus
from crm.agents.states import check_supervisor_change
from crm.audit import service as audit
from crm.calls import service as calls
from crm.errors import Conflict, NotFound, ValidationError
from crm.users import service as users
from crm.users.models import Role
from telephony.ami.client import AmiError
from telephony.channels import AgentDirectory
from telephony.supervision import SpyCall, SpyMode
from web.agent_states import AgentStateOut, AgentStates
from web.auth import Caller, require
from web.calls import PbxUnavailable
from web.errors import answers
from web.params import IdPath
from web.services import Services, services

router = APIRouter(prefix="/api/supervision", tags=["supervision"])
supervisors = require(Role.SUPERVISOR, Role.ADMIN)
PBX_DOWN = answers(503, "the PBX is not connected, or refused the call")
STATES_DOWN = answers(503, "agent states are not available in this process")


class SpyIn(BaseModel):
    mode: SpyMode = SpyMode.LISTEN


class SpyOut(BaseModel):
    action_id: str  # the Originate's: its OriginateResponse says whether the phone answered
    mode: SpyMode
    agent_id: int
    agent_extension: str
    phone: str  # the supervisor's phone being rung
    linkedid: str  # the call listened to


class PauseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=32)  # one of the pause reasons


class AgentActionOut(BaseModel):
    user_id: int
    status: AgentStatus
    reason: str | None
    since: datetime
    pbx_synced: bool | None  # False: stored, the PBX is put in line at its next resync


class _Agent(BaseModel):
    id: int
    name: str
    extension: str


async def _agent(svc: Services, agent_id: int) -> _Agent:
    async with svc.database.session() as session:
        user = await users.get(session, agent_id)
    if user is None or user.role is not Role.AGENT or not user.is_active or not user.extension:
        raise NotFound(f"no agent {agent_id}", code="agent_not_found")
    return _Agent(id=user.id, name=user.display_name, extension=user.extension)


def _states(svc: Services) -> AgentStates:
    if svc.agent_states is None:
        raise PbxUnavailable("agent states are not available", code="states_unavailable")
    return svc.agent_states


async def _live_call_of(svc: Services, agent: _Agent) -> str | None:
    """The linkedid of the answered call the agent is on now, if any: the bridge's live view
    in its process, else the calls the database holds as live."""
    if svc.bridge is not None:
        directory = AgentDirectory(svc.settings.agent_extension_pattern)
        for record in svc.bridge.tracker.live_calls():
            on_now = record.agents_connected[-1] if record.agents_connected else record.agent
            if record.answered_at is None or on_now is None:
                continue
            if directory.extension_of(on_now) == agent.extension:
                return record.linkedid
        return None
    async with svc.database.session() as session:
        live = await calls.get_live(session, pbx_id=svc.settings.pbx_id)
    return next(
        (c.linkedid for c in live if c.agent_id == agent.id and c.answered_at is not None), None
    )


async def _record(
    svc: Services, caller: Caller, request: Request, action: str, agent: _Agent, **detail: object
) -> None:
    async with svc.database.session() as session:
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action=f"supervision.{action}",
            entity_type="agent",
            entity_id=agent.id,
            detail={"agent_extension": agent.extension, **detail},
            ip=request.client.host if request.client else None,
            at=svc.clock.now(),
        )


@router.post("/agents/{agent_id}/spy", response_model=SpyOut, status_code=202, responses=PBX_DOWN)
async def spy(
    agent_id: IdPath,
    body: SpyIn,
    request: Request,
    caller: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> SpyOut:
    """Ring the supervisor's own phone into the agent's live call: listening (nobody hears
    the supervisor), whispering (the agent does) or barging in (both parties do)."""
    agent = await _agent(svc, agent_id)
    extension = caller.user.extension
    if not extension:
        raise ValidationError("you have no extension to ring", code="no_extension")
    if not svc.pbx_connected():
        raise PbxUnavailable("the PBX is not connected; try again shortly", code="pbx_unavailable")
    linkedid = await _live_call_of(svc, agent)
    if linkedid is None:
        raise Conflict(f"{agent.name} is on no call now", code="no_live_call")
    try:
        call = SpyCall.of(
            phone=svc.settings.agent_phone(extension),
            agent_extension=agent.extension,
            agent_name=agent.name,
            mode=body.mode,
        )
    except ValueError as exc:  # extensions are digits when stored; an old row may not be
        raise Conflict(str(exc), code="invalid_extension") from None
    try:
        if svc.bridge is not None:
            action_id = await svc.bridge.spy(call)
        elif svc.remote_pbx is not None:  # a web process of several: through the bridge
            action_id = await svc.remote_pbx.spy(call)
        else:
            raise AmiError("no way to the PBX from this process")
    except AmiError as exc:
        raise PbxUnavailable(f"the PBX refused the call: {exc}", code="pbx_refused") from None
    await _record(
        svc, caller, request, body.mode.value, agent,
        linkedid=linkedid, phone=call.phone, action_id=action_id, channel_id=call.channel_id,
    )  # fmt: skip
    return SpyOut(
        action_id=action_id,
        mode=body.mode,
        agent_id=agent.id,
        agent_extension=agent.extension,
        phone=call.phone,
        linkedid=linkedid,
    )


async def _change(
    svc: Services,
    caller: Caller,
    request: Request,
    agent_id: int,
    action: str,
    status: AgentStatus,
    reason: str | None,
) -> AgentActionOut:
    """The agent's own state path (stored, told to the PBX, pushed to the agent), audited."""
    agent = await _agent(svc, agent_id)
    states = _states(svc)
    current: AgentStateOut = await states.get(agent.id)
    problems = check_supervisor_change(current.status, status)
    if problems:
        raise Conflict(problems[0].message, code=problems[0].code, field=problems[0].field)
    out = await states.change(agent.id, status, reason)
    await _record(
        svc, caller, request, action, agent,
        status=out.status.value, reason=out.reason, was=current.status.value,
        pbx_synced=out.pbx_synced,
    )  # fmt: skip
    return AgentActionOut(
        user_id=out.user_id,
        status=out.status,
        reason=out.reason,
        since=out.since,
        pbx_synced=out.pbx_synced,
    )


@router.post("/agents/{agent_id}/pause", response_model=AgentActionOut, responses=STATES_DOWN)
async def pause(
    agent_id: IdPath,
    body: PauseIn,
    request: Request,
    caller: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> AgentActionOut:
    """Pause an agent with a reason: the queues stop ringing them (QueuePause)."""
    return await _change(svc, caller, request, agent_id, "pause", AgentStatus.PAUSED, body.reason)


@router.post("/agents/{agent_id}/unpause", response_model=AgentActionOut, responses=STATES_DOWN)
async def unpause(
    agent_id: IdPath,
    request: Request,
    caller: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> AgentActionOut:
    """A paused agent (or one in wrap-up) back to ready: the queues ring them again."""
    return await _change(svc, caller, request, agent_id, "unpause", AgentStatus.READY, None)


@router.post("/agents/{agent_id}/logout", response_model=AgentActionOut, responses=STATES_DOWN)
async def logout(
    agent_id: IdPath,
    request: Request,
    caller: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> AgentActionOut:
    """Log an agent out of every queue (QueueRemove per queue)."""
    return await _change(svc, caller, request, agent_id, "logout", AgentStatus.LOGGED_OUT, None)
