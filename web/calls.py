"""Click-to-call, and the agent's own calls (recent and live)."""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm.callbacks import service as callbacks
from crm.callbacks.models import MadeBy, Outcome
from crm.calls import service as calls
from crm.calls.service import CallWithCustomer
from crm.campaigns import service as campaigns
from crm.dispositions import service as dispositions
from crm.errors import Conflict, DomainError, ValidationError
from crm.phones import PhoneKind, PhoneNumberError, normalize_phone
from crm.users.models import Role
from telephony import contract
from telephony.ami.client import AmiError
from telephony.channels import AgentDirectory
from web.auth import Caller, require
from web.errors import answers
from web.params import Id
from web.services import Services, services

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/calls", tags=["calls"])
agent_only = require(Role.AGENT)
DIALABLE = (PhoneKind.MOBILE, PhoneKind.LANDLINE, PhoneKind.LOCAL)


class PbxUnavailable(DomainError):
    status = 503


class DialIn(BaseModel):
    number: str = Field(max_length=64)
    task_id: Id | None = None  # dialing a stage callback: the attempt is logged first


class DialOut(BaseModel):
    action_id: str
    attempt_id: int | None
    number: str


class MyCall(BaseModel):
    id: int
    linkedid: str
    started_at: datetime
    direction: str
    outcome: str | None
    customer_id: int | None
    customer_name: str | None
    customer_number: str | None
    talk_seconds: float | None
    disposition: str | None = None  # the code the agent gave it in wrap-up


def dialable(raw: str, area: str | None, *, field: str = "number") -> str:
    """An outside number the trunk may dial, normalised (crm.phones); 422 otherwise."""
    try:
        phone = normalize_phone(raw, default_area_code=area)
    except PhoneNumberError as exc:
        raise ValidationError(str(exc), code="invalid_phone", field=field) from None
    if phone.kind not in DIALABLE:
        raise ValidationError(
            f"{raw!r} is not a customer's number", code="not_dialable", field=field
        )
    return phone.number


@router.post(
    "/dial",
    response_model=DialOut,
    status_code=202,
    responses=answers(503, "the PBX is not connected, or refused the call"),
)
async def dial(
    body: DialIn, caller: Caller = Depends(agent_only), svc: Services = Depends(services)
) -> DialOut:
    """Ring the agent's phone, then the customer (AMI Originate, agent first): a number
    typed on the dial pad, a phone of a customer's card, or a callback task's (the attempt is
    logged first). The campaigns' rules apply: nobody who asked not to be called, only
    within the calling hours."""
    if not caller.user.extension:
        raise ValidationError("you have no extension to ring", code="no_extension")
    if not svc.pbx_connected():
        raise PbxUnavailable("the PBX is not connected; try again shortly", code="pbx_unavailable")
    number = dialable(body.number, svc.settings.default_area_code)
    attempt_id = None
    async with svc.database.session() as session:
        block = await campaigns.dial_check(
            session,
            number=number,
            settings=svc.settings,
            calendar=svc.calendar,
            at=svc.clock.now(),
        )
        if block is not None:
            raise Conflict(block.message, code=block.kind.value, field="number")
        if body.task_id is not None:
            task = await callbacks.get_or_raise(session, body.task_id, field="task_id")
            attempt = await callbacks.start_attempt(
                session,
                task=task,
                made_by=MadeBy.AGENT,
                agent_id=caller.id,
                at=svc.clock.now(),
                dialed_number=number,
            )
            attempt_id = attempt.id
    variables = {
        contract.VAR_CALL_TYPE: contract.CallType.CALLBACK,
        contract.VAR_CUSTOMER_NUMBER: number,
    }
    if attempt_id is not None:
        variables[contract.VAR_ATTEMPT_ID] = str(attempt_id)
    # This process's bridge, or (a web process of several) the bridge through Redis.
    originate = svc.bridge.originate if svc.bridge is not None else svc.remote_pbx.originate  # type: ignore[union-attr]
    try:
        action_id = await originate(
            channel=svc.settings.agent_phone(caller.user.extension),
            context=contract.CONTEXT_CALLBACK,
            exten=number,
            variables=variables,
            caller_id=f'"{caller.user.display_name}" <{caller.user.extension}>',
            attempt_id=attempt_id,
            dialed=number,
        )
    except AmiError as exc:
        if attempt_id is not None:
            async with svc.database.session() as session:
                failed = await callbacks.get_attempt_or_raise(session, attempt_id=attempt_id)
                await campaigns.complete_attempt(
                    session,
                    attempt=failed,
                    outcome=Outcome.FAILED,
                    at=svc.clock.now(),
                    notes=f"PBX refused: {exc}",
                )
        raise PbxUnavailable(f"the PBX refused the call: {exc}", code="pbx_refused") from None
    # The number is masked on its way to the log (web/log_redaction.py).
    log.info("agent %s dials %s (action %s)", caller.user.extension, number, action_id)
    return DialOut(action_id=action_id, attempt_id=attempt_id, number=number)


def _my_call(found: CallWithCustomer, coded: dict[int, str]) -> MyCall:
    c = found.call
    return MyCall(
        id=c.id,
        linkedid=c.linkedid,
        started_at=c.started_at,
        direction=c.direction.value,
        outcome=c.outcome.value if c.outcome else None,
        customer_id=c.customer_id,
        customer_name=found.customer_name,
        customer_number=c.customer_number,
        talk_seconds=c.talk_seconds,
        disposition=coded.get(c.id),
    )


@router.get("/mine", response_model=list[MyCall])
async def my_calls(
    limit: int = Query(20, ge=1, le=200),
    caller: Caller = Depends(agent_only),
    svc: Services = Depends(services),
) -> list[MyCall]:
    async with svc.database.session() as session:
        found = await calls.recent_for_agent(session, agent_id=caller.id, limit=limit)
        coded = await dispositions.for_calls(session, call_ids=[f.call.id for f in found])
    return [_my_call(f, coded) for f in found]


@router.get("/live", response_model=list[MyCall])
async def my_live_calls(
    caller: Caller = Depends(agent_only), svc: Services = Depends(services)
) -> list[MyCall]:
    """Calls ringing or in progress on the agent's phone (a reloaded page picks them up)."""
    if not caller.user.extension or (svc.bridge is None and svc.remote_pbx is None):
        return []
    agents = AgentDirectory(svc.settings.agent_extension_pattern)
    if svc.bridge is not None:
        live = [(r.linkedid, r.agents_rung) for r in svc.bridge.tracker.live_calls()]
    else:  # the bridge is another process: the calls it stored as live
        async with svc.database.session() as session:
            live = [
                (c.linkedid, tuple(c.agents_rung or ()))
                for c in await calls.get_live(session, pbx_id=svc.settings.pbx_id)
            ]
    mine = [
        linkedid
        for linkedid, rung in live
        if caller.user.extension in {agents.extension_of(i) for i in rung}
    ]
    if not mine:
        return []
    async with svc.database.session() as session:
        found = await calls.get_by_linkedids(session, linkedids=mine, limit=10)
    return [_my_call(f, {}) for f in found]
