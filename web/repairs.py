"""Repair tickets over the API: report, crew arrival and completion, customer service's calls
during and after, and each crew's record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm.callbacks.models import Satisfaction
from crm.customers import service as customers
from crm.repairs import service as repairs
from crm.repairs.models import RepairStatus
from crm.users.models import Role
from web import tickets
from web.auth import Caller, require
from web.moments import IsoMoment
from web.params import IdPath, IdQuery, Moment, MomentQuery
from web.services import Services, services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from crm.repairs.models import Repair

router = APIRouter(prefix="/api/repairs", tags=["repairs"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.ADMIN)
workers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT)
callers = require(Role.AGENT, Role.SUPERVISOR)


class RepairIn(tickets.TicketIn):
    crew: str | None = Field(None, max_length=100)  # the project's crew when not given
    description: str = Field(max_length=4000)


class WhenIn(BaseModel):
    at: Moment | None = None  # now when not given
    notes: str = Field("", max_length=4000)


class AfterCallIn(BaseModel):
    satisfaction: Satisfaction
    notes: str = Field("", max_length=4000)


class RepairOut(BaseModel):
    """A repair ticket: the crew's arrival against its time limit, the calls around it."""

    id: int
    customer_id: int
    customer_name: str
    project_id: int | None
    call_id: int | None
    reported_by_id: int | None
    description: str
    crew: str
    status: RepairStatus
    reported_at: IsoMoment
    arrival_due_at: IsoMoment
    arrived_at: IsoMoment | None
    arrival_late: bool
    completed_at: IsoMoment | None
    during_call_at: IsoMoment | None
    after_call_at: IsoMoment | None
    satisfaction: Satisfaction | None
    notes: str
    server_time: IsoMoment


class CrewRecordOut(BaseModel):
    """A crew's repairs, arrivals within the limit and customers' verdicts."""

    crew: str
    repairs: int
    arrived: int
    arrived_on_time: int
    on_time_rate: float | None  # a fraction of the arrivals; None before any
    satisfied: int
    neutral: int
    unsatisfied: int


def _view(repair: Repair, customer: str, now: datetime) -> RepairOut:
    late = (
        repair.arrived_at > repair.arrival_due_at
        if repair.arrived_at
        else now > repair.arrival_due_at
    )
    return RepairOut(
        id=repair.id,
        customer_id=repair.customer_id,
        customer_name=customer,
        project_id=repair.project_id,
        call_id=repair.call_id,
        reported_by_id=repair.reported_by_id,
        description=repair.description,
        crew=repair.crew,
        status=repair.status,
        reported_at=repair.reported_at,
        arrival_due_at=repair.arrival_due_at,
        arrived_at=repair.arrived_at,
        arrival_late=late,
        completed_at=repair.completed_at,
        during_call_at=repair.during_call_at,
        after_call_at=repair.after_call_at,
        satisfaction=repair.satisfaction,
        notes=repair.notes,
        server_time=now,
    )


async def _shown(session: AsyncSession, repair: Repair, now: datetime) -> RepairOut:
    return _view(repair, await tickets.customer_name(session, repair.customer_id), now)


async def _changed(
    svc: Services,
    repair_id: int,
    change: Callable[[AsyncSession, Repair, datetime], Awaitable[object]],
) -> RepairOut:
    """The repair after one change made at the server's now, as the API shows it."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        await change(session, repair, now)
        return await _shown(session, repair, now)


@router.get("", response_model=list[RepairOut])
async def list_repairs(
    _: Caller = Depends(readers),
    svc: Services = Depends(services),
    status: RepairStatus | None = None,
    overdue: bool = False,
    crew: str | None = Query(None, max_length=100),
    customer_id: IdQuery = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[RepairOut]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        found = await repairs.get_list(
            session,
            now=now,
            status=status,
            overdue=overdue,
            crew=crew,
            customer_id=customer_id,
            limit=limit,
        )
        names = await customers.names(session, ids=(r.customer_id for r in found))
        return [_view(r, names.get(r.customer_id, ""), now) for r in found]


@router.get("/crews", response_model=list[CrewRecordOut])
async def crew_records(
    _: Caller = Depends(readers),
    svc: Services = Depends(services),
    since: MomentQuery = None,
    until: MomentQuery = None,
) -> list[CrewRecordOut]:
    """Each crew's repairs, arrivals within the limit and customers' verdicts."""
    async with svc.database.session() as session:
        records = await repairs.crew_records(session, since=since, until=until)
    return [
        CrewRecordOut(
            crew=r.crew,
            repairs=r.repairs,
            arrived=r.arrived,
            arrived_on_time=r.arrived_on_time,
            on_time_rate=r.on_time_rate,
            satisfied=r.satisfied,
            neutral=r.neutral,
            unsatisfied=r.unsatisfied,
        )
        for r in records
    ]


@router.post("", response_model=RepairOut, status_code=201)
async def report_repair(
    body: RepairIn, caller: Caller = Depends(callers), svc: Services = Depends(services)
) -> RepairOut:
    now = svc.clock.now()
    async with svc.database.session() as session:
        origin = await tickets.origin(session, svc, body, what="repair")
        call = origin.call
        repair = await repairs.report(
            session,
            customer_id=origin.customer_id,
            project_id=body.project_id,
            crew=body.crew,
            description=body.description,
            reported_at=now,
            arrival_within=svc.complaint_rules.repair_arrival,
            call_id=call.id if call else None,
            reported_by_id=caller.id,
        )
        await tickets.record_by(
            session, caller, what="repair", ticket_id=repair.id, action="repair.report", at=now
        )
        return await _shown(session, repair, now)


@router.get("/{repair_id}", response_model=RepairOut)
async def get_repair(
    repair_id: IdPath, _: Caller = Depends(readers), svc: Services = Depends(services)
) -> RepairOut:
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        return await _shown(session, repair, svc.clock.now())


@router.post("/{repair_id}/arrived", response_model=RepairOut)
async def arrived(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(workers), svc: Services = Depends(services)
) -> RepairOut:
    return await _changed(
        svc,
        repair_id,
        lambda session, repair, now: repairs.arrived(session, repair, at=body.at or now, now=now),
    )


@router.post("/{repair_id}/completed", response_model=RepairOut)
async def completed(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(workers), svc: Services = Depends(services)
) -> RepairOut:
    return await _changed(
        svc,
        repair_id,
        lambda session, repair, now: repairs.completed(
            session, repair, at=body.at or now, now=now, notes=body.notes
        ),
    )


@router.post("/{repair_id}/call-during", response_model=RepairOut)
async def call_during(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(callers), svc: Services = Depends(services)
) -> RepairOut:
    return await _changed(
        svc,
        repair_id,
        lambda session, repair, now: repairs.call_during(session, repair, at=now, notes=body.notes),
    )


@router.post("/{repair_id}/call-after", response_model=RepairOut)
async def call_after(
    repair_id: IdPath,
    body: AfterCallIn,
    _: Caller = Depends(callers),
    svc: Services = Depends(services),
) -> RepairOut:
    return await _changed(
        svc,
        repair_id,
        lambda session, repair, now: repairs.call_after(
            session, repair, at=now, satisfaction=body.satisfaction, notes=body.notes
        ),
    )
