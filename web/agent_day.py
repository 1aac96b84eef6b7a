"""An agent's day on the console: their worklist (the callbacks due today and overdue that
they should make, by deadline) and today's figures. Each agent sees only their own."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from crm.agents.today import agent_day
from crm.callbacks.worklist import WORKLIST_SIZE, WorkItem, worklist
from crm.clock import local_day_window
from crm.users.models import Role
from web.auth import Caller, require
from web.services import Services, services

router = APIRouter(prefix="/api/agent", tags=["agents"])
agent_only = require(Role.AGENT)


class AgentTodayOut(BaseModel):
    day: date
    calls_handled: int
    talk_seconds: float
    callbacks_made: int
    callbacks_effective: int
    calls_coded: int


@router.get("/worklist", response_model=list[WorkItem])
async def my_worklist(
    limit: int = Query(WORKLIST_SIZE, ge=1, le=500),
    caller: Caller = Depends(agent_only),
    svc: Services = Depends(services),
) -> list[WorkItem]:
    """The callbacks the caller should make today: theirs and the shared pool's, overdue
    first, by deadline."""
    async with svc.database.session() as session:
        items = await worklist(
            session, agent_id=caller.id, now=svc.clock.now(), tz=svc.settings.tz, limit=limit
        )
    return items


@router.get("/today", response_model=AgentTodayOut)
async def my_day(
    caller: Caller = Depends(agent_only), svc: Services = Depends(services)
) -> AgentTodayOut:
    """The caller's figures for today: calls handled, talk time, callbacks made and
    effective, calls coded."""
    now = svc.clock.now()
    day, start, end = local_day_window(now, svc.settings.tz)
    async with svc.database.session() as session:
        figures = await agent_day(session, agent_id=caller.id, start=start, end=end, now=now)
    return AgentTodayOut(
        day=day,
        calls_handled=figures.calls_handled,
        talk_seconds=figures.talk_seconds,
        callbacks_made=figures.callbacks_made,
        callbacks_effective=figures.callbacks_effective,
        calls_coded=figures.calls_coded,
    )
