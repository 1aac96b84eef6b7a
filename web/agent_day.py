"""An agent's day on the console: their worklist (the callbacks due today and overdue that
they should make, by deadline) and today's figures. Each agent sees only their own."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from crm.agents.today import agent_day
from crm.callbacks.models import Stage
from crm.callbacks.worklist import WORKLIST_SIZE, worklist
from crm.clock import local_day_window
from crm.customers.cards import PhoneCard
from crm.customers.models import Grade
from crm.users.models import Role
from web.auth import Caller, require
from web.services import Services, services

router = APIRouter(prefix="/api/agent", tags=["agents"])
agent_only = require(Role.AGENT)


class WorkItemOut(BaseModel):
    task_id: int
    project_id: int
    contract_number: str
    stage: Stage
    month: int
    due_date: date
    latest_date: date  # the deadline
    overdue: bool
    customer_id: int
    customer_name: str
    grade: Grade
    do_not_call: bool
    phone: PhoneCard | None  # what the dial button calls
    promised_at: datetime | None  # the agent promised the customer a call at this time
    mine: bool  # promised by this agent; else from the shared pool
    attempt_count: int


class AgentTodayOut(BaseModel):
    day: date
    calls_handled: int
    talk_seconds: float
    callbacks_made: int
    callbacks_effective: int
    calls_coded: int


@router.get("/worklist", response_model=list[WorkItemOut])
async def my_worklist(
    limit: int = Query(WORKLIST_SIZE, ge=1, le=500),
    caller: Caller = Depends(agent_only),
    svc: Services = Depends(services),
) -> list[WorkItemOut]:
    """The callbacks the caller should make today: theirs and the shared pool's, overdue
    first, by deadline."""
    async with svc.database.session() as session:
        items = await worklist(
            session, agent_id=caller.id, now=svc.clock.now(), tz=svc.settings.tz, limit=limit
        )
    return [
        WorkItemOut(
            task_id=i.task_id,
            project_id=i.project_id,
            contract_number=i.contract_number,
            stage=i.stage,
            month=i.month,
            due_date=i.due_date,
            latest_date=i.latest_date,
            overdue=i.overdue,
            customer_id=i.customer_id,
            customer_name=i.customer_name,
            grade=i.grade,
            do_not_call=i.do_not_call,
            phone=i.phone,
            promised_at=i.promised_at,
            mine=i.mine,
            attempt_count=i.attempt_count,
        )
        for i in items
    ]


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
