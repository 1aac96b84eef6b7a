"""The console's call controls on a live call: hang up, hold, resume, mute, transfer (blind or
consultative), conference. Thin: checks who asks and where a transfer goes, then hands the
control to `telephony.call_controls` — this process's bridge, or the bridge of another
process through Redis (`telephony.pbx_requests`).

An agent acts on their own part of a call; a supervisor on any call, in its agent's place,
and every such action is audited.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.errors import DomainError, ValidationError
from crm.users import service as users
from crm.users.models import Role
from telephony.call_controls import (
    CallPhase,
    ControlKind,
    ControlRefused,
    ControlRequest,
    ControlState,
    Refusal,
    TargetKind,
    TransferTarget,
)
from web.auth import Caller, require
from web.calls import dialable
from web.errors import answers
from web.services import Services, services

router = APIRouter(prefix="/api/calls/live", tags=["call controls"])
controllers = require(Role.AGENT, Role.SUPERVISOR)
LinkedId = Path(pattern=r"^[A-Za-z0-9._:;-]{1,64}$", description="the call's Asterisk linkedid")
PBX_DOWN = answers(503, "the PBX is not connected (or refused the control)")

# What each refusal is, for the HTTP client.
STATUS = {
    Refusal.NO_LIVE_CALL: 404,
    Refusal.CALL_ENDED: 409,
    Refusal.NOT_ON_CALL: 403,
    Refusal.NOT_NOW: 409,
    Refusal.NEEDS_TARGET: 422,
    Refusal.PBX_UNAVAILABLE: 503,
    Refusal.PBX_REFUSED: 503,
}


class ControlError(DomainError):
    def __init__(self, refused: ControlRefused) -> None:
        super().__init__(refused.message, code=refused.refusal.value)
        self.status = STATUS[refused.refusal]


class TargetIn(BaseModel):
    """Where the call goes: an agent's extension, one of the centre's queues, or an outside
    number (normalised as customers' numbers are)."""

    kind: TargetKind
    value: str = Field(min_length=1, max_length=64)


class TransferIn(BaseModel):
    target: TargetIn
    # blind: the customer goes on at once; attended: the agent talks to the target first,
    # then completes (or cancels) the transfer.
    attended: bool = False


class ConferenceIn(BaseModel):
    # None while consulting: the consulted party and the customer join (three-way).
    target: TargetIn | None = None


class ControlStateOut(BaseModel):
    """The call as the controls see it, and the controls its state allows."""

    linkedid: str
    phase: CallPhase
    agent_extension: str | None
    muted: bool
    added_party: str | None
    allowed: list[ControlKind]

    @classmethod
    def of(cls, state: ControlState) -> ControlStateOut:
        return cls(
            linkedid=state.linkedid,
            phase=state.phase,
            agent_extension=state.agent_extension,
            muted=state.muted,
            added_party=state.added_party,
            allowed=list(state.allowed),
        )


def _acting_extension(caller: Caller) -> str | None:
    """An agent acts as their own extension; a supervisor as the call's agent."""
    if caller.role is Role.SUPERVISOR:
        return None
    if not caller.user.extension:
        raise ValidationError("you have no extension, so no call", code="no_extension")
    return caller.user.extension


async def _target(body: TargetIn, caller: Caller, svc: Services) -> TransferTarget:
    value, settings = body.value.strip(), svc.settings
    if body.kind is TargetKind.NUMBER:
        number = dialable(value, settings.default_area_code, field="target.value")
        return TransferTarget(TargetKind.NUMBER, number)
    if body.kind is TargetKind.QUEUE:
        if value not in (settings.queue, settings.callback_queue):
            raise ValidationError(f"no queue {value!r}", code="unknown_queue", field="target.value")
        return TransferTarget(TargetKind.QUEUE, value)
    if not re.fullmatch(settings.agent_extension_pattern, value):
        raise ValidationError(
            f"{value!r} is not an extension", code="invalid_extension", field="target.value"
        )
    if value == caller.user.extension:
        raise ValidationError(
            "that is your own extension", code="own_extension", field="target.value"
        )
    async with svc.database.session() as session:
        directory = await users.extension_directory(session)
    if value not in directory:
        raise ValidationError(
            f"nobody has extension {value}", code="unknown_extension", field="target.value"
        )
    return TransferTarget(TargetKind.EXTENSION, value)


async def _state(svc: Services, linkedid: str, extension: str | None) -> ControlState:
    try:
        if svc.call_controls is not None:
            return svc.call_controls.state(linkedid, extension)
        if svc.remote_pbx is not None:
            return await svc.remote_pbx.call_control_state(linkedid, extension)
    except ControlRefused as refused:
        raise ControlError(refused) from None
    raise ControlError(ControlRefused(Refusal.PBX_UNAVAILABLE, "this server has no PBX"))


async def _apply(
    svc: Services,
    caller: Caller,
    linkedid: str,
    control: ControlKind,
    target: TransferTarget | None = None,
) -> ControlStateOut:
    extension = _acting_extension(caller)
    request = ControlRequest(
        linkedid=linkedid,
        control=control,
        extension=extension,
        target=target,
        caller_id=f'"{caller.user.display_name}" <{caller.user.extension}>'
        if caller.user.extension
        else None,
    )
    try:
        if svc.call_controls is not None:
            state = await svc.call_controls.apply(request)
        elif svc.remote_pbx is not None:
            state = await svc.remote_pbx.call_control(request)
        else:
            raise ControlRefused(Refusal.PBX_UNAVAILABLE, "this server has no PBX")
    except ControlRefused as refused:
        raise ControlError(refused) from None
    if caller.role is Role.SUPERVISOR:
        async with svc.database.session() as session:
            await audit.record(
                session,
                actor=caller.user.username,
                user_id=caller.id,
                action=f"call.{control.value}",
                entity_type="call",
                entity_id=linkedid,
                detail={
                    "agent_extension": state.agent_extension,
                    **({"target": f"{target.kind.value}:{target.value}"} if target else {}),
                },
                at=svc.clock.now(),
            )
    return ControlStateOut.of(state)


@router.get("/{linkedid}/controls", response_model=ControlStateOut, responses=PBX_DOWN)
async def controls_of(
    linkedid: str = LinkedId,
    caller: Caller = Depends(controllers),
    svc: Services = Depends(services),
) -> ControlStateOut:
    """The live call's state and the controls it allows now."""
    return ControlStateOut.of(await _state(svc, linkedid, _acting_extension(caller)))


def _simple(control: ControlKind, summary: str) -> None:
    async def route(
        linkedid: str = LinkedId,
        caller: Caller = Depends(controllers),
        svc: Services = Depends(services),
    ) -> ControlStateOut:
        return await _apply(svc, caller, linkedid, control)

    route.__doc__ = summary
    path = {
        ControlKind.COMPLETE: "transfer/complete",
        ControlKind.CANCEL: "transfer/cancel",
    }.get(control, control.value)
    router.add_api_route(
        f"/{{linkedid}}/{path}",
        route,
        methods=["POST"],
        response_model=ControlStateOut,
        responses=PBX_DOWN,
        name=f"call_{control.value}",
        summary=summary,
    )


_simple(ControlKind.HANGUP, "Hang up the agent's part of the call.")
_simple(ControlKind.HOLD, "Put the customer on hold (music); the agent waits in the call's room.")
_simple(ControlKind.RESUME, "Take the customer off hold, back to the agent.")
_simple(ControlKind.MUTE, "Mute the agent's microphone.")
_simple(ControlKind.UNMUTE, "Unmute the agent's microphone.")
_simple(ControlKind.COMPLETE, "Complete an attended transfer: the customer goes to the party.")
_simple(ControlKind.CANCEL, "Drop the consulted or conferenced party; the customer stays.")


@router.post("/{linkedid}/transfer", response_model=ControlStateOut, responses=PBX_DOWN)
async def transfer(
    body: TransferIn,
    linkedid: str = LinkedId,
    caller: Caller = Depends(controllers),
    svc: Services = Depends(services),
) -> ControlStateOut:
    """Transfer to an extension, a queue or an outside number: blind, or attended (consult
    first, then complete or cancel)."""
    target = await _target(body.target, caller, svc)
    kind = ControlKind.CONSULT if body.attended else ControlKind.TRANSFER
    return await _apply(svc, caller, linkedid, kind, target)


@router.post("/{linkedid}/conference", response_model=ControlStateOut, responses=PBX_DOWN)
async def conference(
    body: ConferenceIn,
    linkedid: str = LinkedId,
    caller: Caller = Depends(controllers),
    svc: Services = Depends(services),
) -> ControlStateOut:
    """A three-way call: with a new party, or (while consulting) with the consulted one."""
    target = await _target(body.target, caller, svc) if body.target is not None else None
    return await _apply(svc, caller, linkedid, ControlKind.CONFERENCE, target)
