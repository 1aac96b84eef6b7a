"""Wrap-up dispositions: the configured codes, the calls an agent has yet to code, and coding a
call (an agent their own calls, a supervisor any call). Coding tells the agent's state: a
wrap-up held for it ends, and the console learns what is left to code."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm.clock import local_day_window
from crm.dispositions import service as dispositions
from crm.errors import NotFound
from crm.users.models import Role
from web.auth import Caller, require
from web.params import Id, IdPath
from web.services import Services, services

if TYPE_CHECKING:
    from crm.dispositions.models import CallDisposition

router = APIRouter(prefix="/api", tags=["dispositions"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.QA, Role.ADMIN)
coders = require(Role.AGENT, Role.SUPERVISOR)
agent_only = require(Role.AGENT)


class DispositionCodeOut(BaseModel):
    code: str
    names: dict[str, str]  # language (zh-CN, en) → name


class DispositionCodesOut(BaseModel):
    codes: list[DispositionCodeOut]
    required: bool  # an agent codes their calls before going ready


class DispositionIn(BaseModel):
    code: str = Field(max_length=32)
    note: str = Field("", max_length=dispositions.MAX_NOTE)
    customer_id: Id | None = None  # the caller was not known by their number: who it was
    project_id: Id | None = None


class DispositionOut(BaseModel):
    call_id: int
    code: str
    note: str
    agent_id: int
    customer_id: int | None
    project_id: int | None
    coded_at: datetime


def _out(disposition: CallDisposition) -> DispositionOut:
    return DispositionOut(
        call_id=disposition.call_id,
        code=disposition.code,
        note=disposition.note,
        agent_id=disposition.agent_id,
        customer_id=disposition.customer_id,
        project_id=disposition.project_id,
        coded_at=disposition.coded_at,
    )


@router.get("/dispositions/codes", response_model=DispositionCodesOut)
async def codes(
    _: Caller = Depends(readers), svc: Services = Depends(services)
) -> DispositionCodesOut:
    """The codes agents pick from, in order, and whether coding is required."""
    return DispositionCodesOut(
        codes=[
            DispositionCodeOut(code=c.code, names=dict(c.names))
            for c in svc.disposition_codes.codes
        ],
        required=svc.settings.disposition_required,
    )


@router.get("/dispositions/owed", response_model=list[dispositions.CallToCode])
async def owed(
    limit: int = Query(20, ge=1, le=100),
    caller: Caller = Depends(agent_only),
    svc: Services = Depends(services),
) -> list[dispositions.CallToCode]:
    """Today's answered calls of the caller's that have no disposition yet, oldest first."""
    since = local_day_window(svc.clock.now(), svc.settings.tz)[1]
    async with svc.database.session() as session:
        found = await dispositions.owed(session, agent_id=caller.id, since=since, limit=limit)
    return found


@router.get("/calls/{call_id}/disposition", response_model=DispositionOut)
async def get_disposition(
    call_id: IdPath, caller: Caller = Depends(readers), svc: Services = Depends(services)
) -> DispositionOut:
    """The call's disposition (404 when it was not coded; an agent sees their own calls')."""
    async with svc.database.session() as session:
        disposition = await dispositions.get_for_call(session, call_id=call_id)
        if disposition is None or (caller.role is Role.AGENT and disposition.agent_id != caller.id):
            raise NotFound(f"call {call_id} has no disposition", code="disposition_not_found")
        return _out(disposition)


@router.put("/calls/{call_id}/disposition", response_model=DispositionOut)
async def code_call(
    call_id: IdPath,
    body: DispositionIn,
    caller: Caller = Depends(coders),
    svc: Services = Depends(services),
) -> DispositionOut:
    """Code a call (or correct its code): why the customer called, a note, and who it was
    when the caller was not known by their number (the call is linked to them)."""
    async with svc.database.session() as session:
        disposition = await dispositions.code_call(
            session,
            call_id=call_id,
            agent_id=caller.id,
            own_calls_only=caller.role is Role.AGENT,
            code=body.code,
            note=body.note,
            customer_id=body.customer_id,
            project_id=body.project_id,
            codes=svc.disposition_codes,
            at=svc.clock.now(),
        )
        out = _out(disposition)
    if svc.agent_states is not None:
        await svc.agent_states.after_coding(out.agent_id)
    return out
