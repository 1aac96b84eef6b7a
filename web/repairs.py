"""Repair tickets over the API: report, crew arrival and completion, customer service's calls
during and after, and each crew's record."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.callbacks.models import Satisfaction
from crm.customers import service as customers
from crm.repairs import service as repairs
from crm.repairs.models import RepairStatus
from crm.users.models import Role
from web import tickets
from web.auth import Caller, require
from web.params import Id, IdPath, IdQuery, Moment, MomentQuery
from web.services import Services, services
from web.tickets import iso

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from crm.repairs.models import Repair

router = APIRouter(prefix="/api/repairs", tags=["repairs"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.ADMIN)
workers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT)
callers = require(Role.AGENT, Role.SUPERVISOR)


class RepairIn(BaseModel):
    customer_id: Id | None = None  # may come from the call
    project_id: Id | None = None
    call_id: Id | None = None
    linkedid: str | None = Field(None, max_length=64)
    crew: str | None = Field(None, max_length=100)  # the project's crew when not given
    description: str = Field(max_length=4000)


class WhenIn(BaseModel):
    at: Moment | None = None  # now when not given
    notes: str = Field("", max_length=4000)


class AfterCallIn(BaseModel):
    satisfaction: Satisfaction
    notes: str = Field("", max_length=4000)


def _view(repair: Repair, customer: str, now: datetime) -> dict[str, Any]:
    late = (
        repair.arrived_at > repair.arrival_due_at
        if repair.arrived_at
        else now > repair.arrival_due_at
    )
    return {
        "id": repair.id,
        "customer_id": repair.customer_id,
        "customer_name": customer,
        "project_id": repair.project_id,
        "call_id": repair.call_id,
        "reported_by_id": repair.reported_by_id,
        "description": repair.description,
        "crew": repair.crew,
        "status": repair.status.value,
        "reported_at": iso(repair.reported_at),
        "arrival_due_at": iso(repair.arrival_due_at),
        "arrived_at": iso(repair.arrived_at),
        "arrival_late": late,
        "completed_at": iso(repair.completed_at),
        "during_call_at": iso(repair.during_call_at),
        "after_call_at": iso(repair.after_call_at),
        "satisfaction": repair.satisfaction.value if repair.satisfaction else None,
        "notes": repair.notes,
        "server_time": iso(now),
    }


async def _shown(session: AsyncSession, repair: Repair, now: datetime) -> dict[str, Any]:
    return _view(repair, await tickets.customer_name(session, repair.customer_id), now)


@router.get("")
async def list_repairs(
    _: Caller = Depends(readers),
    svc: Services = Depends(services),
    status: RepairStatus | None = None,
    overdue: bool = False,
    crew: str | None = Query(None, max_length=100),
    customer_id: IdQuery = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
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


@router.get("/crews")
async def crew_records(
    _: Caller = Depends(readers),
    svc: Services = Depends(services),
    since: MomentQuery = None,
    until: MomentQuery = None,
) -> list[dict[str, Any]]:
    """Each crew's repairs, arrivals within the limit and customers' verdicts."""
    async with svc.database.session() as session:
        records = await repairs.crew_records(session, since=since, until=until)
    return [
        {
            "crew": r.crew,
            "repairs": r.repairs,
            "arrived": r.arrived,
            "arrived_on_time": r.arrived_on_time,
            "on_time_rate": r.on_time_rate,
            "satisfied": r.satisfied,
            "neutral": r.neutral,
            "unsatisfied": r.unsatisfied,
        }
        for r in records
    ]


@router.post("", status_code=201)
async def report_repair(
    body: RepairIn, caller: Caller = Depends(callers), svc: Services = Depends(services)
) -> dict[str, Any]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        origin = await tickets.origin(
            session,
            svc,
            call_id=body.call_id,
            linkedid=body.linkedid,
            customer_id=body.customer_id,
            what="repair",
        )
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
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="repair.report",
            entity_type="repair",
            entity_id=repair.id,
            at=now,
        )
        return await _shown(session, repair, now)


@router.get("/{repair_id}")
async def get_repair(
    repair_id: IdPath, _: Caller = Depends(readers), svc: Services = Depends(services)
) -> dict[str, Any]:
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        return await _shown(session, repair, svc.clock.now())


@router.post("/{repair_id}/arrived")
async def arrived(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(workers), svc: Services = Depends(services)
) -> dict[str, Any]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        await repairs.arrived(session, repair, at=body.at or now, now=now)
        return await _shown(session, repair, now)


@router.post("/{repair_id}/completed")
async def completed(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(workers), svc: Services = Depends(services)
) -> dict[str, Any]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        await repairs.completed(session, repair, at=body.at or now, now=now, notes=body.notes)
        return await _shown(session, repair, now)


@router.post("/{repair_id}/call-during")
async def call_during(
    repair_id: IdPath, body: WhenIn, _: Caller = Depends(callers), svc: Services = Depends(services)
) -> dict[str, Any]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        await repairs.call_during(session, repair, at=now, notes=body.notes)
        return await _shown(session, repair, now)


@router.post("/{repair_id}/call-after")
async def call_after(
    repair_id: IdPath,
    body: AfterCallIn,
    _: Caller = Depends(callers),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    now = svc.clock.now()
    async with svc.database.session() as session:
        repair = await repairs.get_or_raise(session, repair_id)
        await repairs.call_after(
            session, repair, at=now, satisfaction=body.satisfaction, notes=body.notes
        )
        return await _shown(session, repair, now)
