"""Complaint tickets over the API: open (from a call, or by hand), the department's steps,
escalation and compensation, the call back; each with its clocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, JsonValue

from crm.complaints import service as complaints
from crm.complaints.models import ComplaintGrade, ComplaintSource, ComplaintStatus
from crm.complaints.rules import CATEGORIES
from crm.complaints.time_limits import Step, TimeLimitState
from crm.customers import service as customers
from crm.errors import NotFound, ValidationError
from crm.users import service as users
from crm.users.models import Role
from web import tickets
from web.auth import Caller, require
from web.moments import IsoMoment
from web.params import Id, IdPath, IdQuery, Moment
from web.services import Services, services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from crm.complaints.models import Complaint

router = APIRouter(prefix="/api/complaints", tags=["complaints"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT, Role.ADMIN)
receivers = require(Role.AGENT, Role.SUPERVISOR)
workers = require(Role.AGENT, Role.SUPERVISOR, Role.DEPARTMENT)
managers = require(Role.SUPERVISOR)


class ComplaintIn(tickets.TicketIn):
    department: str = Field(max_length=50)
    category: str = Field(max_length=50)
    description: str = Field(max_length=4000)
    customer_demand: str = Field("", max_length=4000)
    grade: ComplaintGrade = ComplaintGrade.GENERAL


class StepIn(BaseModel):
    at: Moment | None = None  # when it happened; now when not given
    signed_by: str | None = Field(None, max_length=100)
    solution: str | None = Field(None, max_length=4000)
    visit_at: Moment | None = None
    notes: str = Field("", max_length=4000)


class CallBackIn(BaseModel):
    satisfied: bool
    notes: str = Field("", max_length=4000)


class EscalationIn(BaseModel):
    reason: str = Field(max_length=1000)
    manager_id: Id | None = None


class CompensationIn(BaseModel):
    amount: Decimal = Field(max_digits=12, decimal_places=2)


class ClockOut(BaseModel):
    """One step's time limit: when it is due, when it was done, how it stands."""

    step: Step
    due_at: IsoMoment | None
    done_at: IsoMoment | None
    state: TimeLimitState


class UrgentOut(BaseModel):
    """The open step whose limit comes first."""

    step: Step
    state: TimeLimitState
    due_at: IsoMoment | None


class ComplaintOut(BaseModel):
    """A complaint with its clocks, as the lists and the actions answer it."""

    id: int
    customer_id: int
    project_id: int | None
    call_id: int | None
    attempt_id: int | None
    first_contact_id: int | None
    manager_id: int | None
    department: str
    category: str
    description: str
    customer_demand: str
    signed_by: str | None
    solution: str | None
    reopened: int
    callback_satisfied: bool | None
    received_at: IsoMoment
    clocks_from: IsoMoment
    signed_at: IsoMoment | None
    verified_at: IsoMoment | None
    solution_at: IsoMoment | None
    visit_at: IsoMoment | None
    resolved_at: IsoMoment | None
    callback_at: IsoMoment | None
    compensation_approved_at: IsoMoment | None
    next_due_at: IsoMoment | None
    server_time: IsoMoment  # pages count time left by this, not their own clock
    customer_name: str
    source: ComplaintSource
    grade: ComplaintGrade
    status: ComplaintStatus
    compensation: str | None  # the amount, exactly as stored ("1200.00")
    urgent: UrgentOut | None  # None once closed
    clocks: list[ClockOut]


class ComplaintEventOut(BaseModel):
    at: IsoMoment
    kind: str
    actor_id: int | None
    actor_name: str | None
    detail: dict[str, JsonValue]


class ComplaintDetail(ComplaintOut):
    """One complaint: its clocks, the people in charge and its history."""

    first_contact_name: str | None
    manager_name: str | None
    events: list[ComplaintEventOut]


class ComplaintOptions(BaseModel):
    """What the forms offer."""

    departments: list[str]
    categories: list[str]
    grades: list[ComplaintGrade]
    steps: list[Step]


def _view(complaint: Complaint, customer: str, svc: Services) -> ComplaintOut:
    now = svc.clock.now()
    step_limits = complaints.time_limits_of(complaint, svc.complaint_rules, now)
    urgent = (
        complaints.most_urgent(step_limits)
        if complaint.status is not ComplaintStatus.CLOSED
        else None
    )
    return ComplaintOut(
        id=complaint.id,
        customer_id=complaint.customer_id,
        project_id=complaint.project_id,
        call_id=complaint.call_id,
        attempt_id=complaint.attempt_id,
        first_contact_id=complaint.first_contact_id,
        manager_id=complaint.manager_id,
        department=complaint.department,
        category=complaint.category,
        description=complaint.description,
        customer_demand=complaint.customer_demand,
        signed_by=complaint.signed_by,
        solution=complaint.solution,
        reopened=complaint.reopened,
        callback_satisfied=complaint.callback_satisfied,
        received_at=complaint.received_at,
        clocks_from=complaint.clocks_from,
        signed_at=complaint.signed_at,
        verified_at=complaint.verified_at,
        solution_at=complaint.solution_at,
        visit_at=complaint.visit_at,
        resolved_at=complaint.resolved_at,
        callback_at=complaint.callback_at,
        compensation_approved_at=complaint.compensation_approved_at,
        next_due_at=complaint.next_due_at,
        server_time=now,
        customer_name=customer,
        source=complaint.source,
        grade=complaint.grade,
        status=complaint.status,
        compensation=str(complaint.compensation) if complaint.compensation else None,
        urgent=UrgentOut(step=urgent.step, state=urgent.state, due_at=urgent.due_at)
        if urgent
        else None,
        clocks=[
            ClockOut(step=c.step, due_at=c.due_at, done_at=c.done_at, state=c.state)
            for c in step_limits
        ],
    )


async def _shown(session: AsyncSession, complaint: Complaint, svc: Services) -> ComplaintOut:
    return _view(complaint, await tickets.customer_name(session, complaint.customer_id), svc)


async def _visible(session: AsyncSession, caller: Caller, complaint_id: int) -> Complaint:
    """The complaint, if the caller may see it: a department sees its own complaints only."""
    complaint = await complaints.get_or_raise(session, complaint_id)
    if caller.role is Role.DEPARTMENT and complaint.department != await _department(
        session, caller
    ):
        raise NotFound(f"no complaint {complaint_id}", code="complaint_not_found")
    return complaint


async def _changed(
    svc: Services,
    caller: Caller,
    complaint_id: int,
    change: Callable[[AsyncSession, Complaint], Awaitable[object]],
) -> ComplaintOut:
    """The complaint the caller may see, after one change, as the API shows it."""
    async with svc.database.session() as session:
        complaint = await _visible(session, caller, complaint_id)
        await change(session, complaint)
        return await _shown(session, complaint, svc)


async def _department(session: AsyncSession, caller: Caller) -> str | None:
    user = await users.get(session, caller.id)
    return user.department if user else None


@router.get("/options", response_model=ComplaintOptions)
async def options(
    _: Caller = Depends(readers), svc: Services = Depends(services)
) -> ComplaintOptions:
    """What the forms offer: departments, categories, grades, steps."""
    return ComplaintOptions(
        departments=list(svc.complaint_rules.departments),
        categories=list(CATEGORIES),
        grades=list(ComplaintGrade),
        steps=list(Step),
    )


@router.get("", response_model=list[ComplaintOut])
async def list_complaints(
    caller: Caller = Depends(readers),
    svc: Services = Depends(services),
    status: ComplaintStatus | None = None,
    state: TimeLimitState | None = Query(None, description="overdue, due_soon"),
    department: str | None = Query(None, max_length=50),
    customer_id: IdQuery = None,
    mine: bool = False,
    limit: int = Query(200, ge=1, le=1000),
) -> list[ComplaintOut]:
    if state not in (None, TimeLimitState.OVERDUE, TimeLimitState.DUE_SOON):
        raise ValidationError("filter by overdue or due_soon", code="invalid", field="state")
    async with svc.database.session() as session:
        if caller.role is Role.DEPARTMENT:
            department = await _department(session, caller) or "\0"
        found = await complaints.get_list(
            session,
            svc.complaint_rules,
            now=svc.clock.now(),
            status=status,
            state=state,
            department=department,
            customer_id=customer_id,
            first_contact_id=caller.id if mine else None,
            limit=limit,
        )
        names = await customers.names(session, ids=(c.customer_id for c in found))
        return [_view(c, names.get(c.customer_id, ""), svc) for c in found]


@router.post("", response_model=ComplaintOut, status_code=201)
async def open_complaint(
    body: ComplaintIn, caller: Caller = Depends(receivers), svc: Services = Depends(services)
) -> ComplaintOut:
    """The person who takes the complaint is its first contact (首问责任制)."""
    at = svc.clock.now()
    async with svc.database.session() as session:
        origin = await tickets.origin(session, svc, body, what="complaint")
        call = origin.call
        complaint = await complaints.open_complaint(
            session,
            svc.complaint_rules,
            customer_id=origin.customer_id,
            project_id=body.project_id,
            source=ComplaintSource.CALL if call else ComplaintSource.API,
            department=body.department,
            category=body.category,
            description=body.description,
            customer_demand=body.customer_demand,
            grade=body.grade,
            received_at=at,
            call_id=call.id if call else None,
            first_contact_id=caller.id,
            manager_id=caller.id
            if body.grade is ComplaintGrade.MAJOR and caller.role is Role.SUPERVISOR
            else None,
        )
        await tickets.record_by(
            session,
            caller,
            what="complaint",
            ticket_id=complaint.id,
            action="complaint.open",
            at=at,
        )
        return await _shown(session, complaint, svc)


@router.get("/{complaint_id}", response_model=ComplaintDetail)
async def get_complaint(
    complaint_id: IdPath, caller: Caller = Depends(readers), svc: Services = Depends(services)
) -> ComplaintDetail:
    """The complaint with its clocks and its history."""
    async with svc.database.session() as session:
        complaint = await _visible(session, caller, complaint_id)
        view = await _shown(session, complaint, svc)
        events = await complaints.events_of(session, complaint.id)
        people = {e.actor_id for e in events} | {complaint.first_contact_id, complaint.manager_id}
        names = await users.display_names(session, ids=people)  # ids are never 0
        return ComplaintDetail(
            **dict(view),
            first_contact_name=names.get(complaint.first_contact_id or 0),
            manager_name=names.get(complaint.manager_id or 0),
            events=[
                ComplaintEventOut(
                    at=e.at,
                    kind=e.kind,
                    actor_id=e.actor_id,
                    actor_name=names.get(e.actor_id or 0),
                    detail=e.detail,
                )
                for e in events
            ],
        )


@router.post("/{complaint_id}/steps/{step}", response_model=ComplaintOut)
async def record_step(
    complaint_id: IdPath,
    step: Step,
    body: StepIn,
    caller: Caller = Depends(workers),
    svc: Services = Depends(services),
) -> ComplaintOut:
    """A department step: signed, verified, solution, resolved."""
    now = svc.clock.now()
    return await _changed(
        svc,
        caller,
        complaint_id,
        lambda session, complaint: complaints.advance(
            session,
            svc.complaint_rules,
            complaint,
            step,
            at=body.at or now,
            now=now,
            actor_id=caller.id,
            signed_by=body.signed_by,
            solution=body.solution,
            visit_at=body.visit_at,
            notes=body.notes,
        ),
    )


@router.post("/{complaint_id}/call-back", response_model=ComplaintOut)
async def call_back(
    complaint_id: IdPath,
    body: CallBackIn,
    caller: Caller = Depends(receivers),
    svc: Services = Depends(services),
) -> ComplaintOut:
    """Customer service's call back after the resolution, recorded by hand."""
    return await _changed(
        svc,
        caller,
        complaint_id,
        lambda session, complaint: complaints.record_call_back(
            session,
            svc.complaint_rules,
            complaint,
            satisfied=body.satisfied,
            at=svc.clock.now(),
            actor_id=caller.id,
            notes=body.notes,
        ),
    )


@router.post("/{complaint_id}/escalate", response_model=ComplaintOut)
async def escalate(
    complaint_id: IdPath,
    body: EscalationIn,
    caller: Caller = Depends(receivers),
    svc: Services = Depends(services),
) -> ComplaintOut:
    manager_id = body.manager_id or (caller.id if caller.role is Role.SUPERVISOR else None)
    return await _changed(
        svc,
        caller,
        complaint_id,
        lambda session, complaint: complaints.escalate(
            session,
            svc.complaint_rules,
            complaint,
            at=svc.clock.now(),
            actor_id=caller.id,
            reason=body.reason,
            manager_id=manager_id,
        ),
    )


@router.post("/{complaint_id}/compensation", response_model=ComplaintOut)
async def propose_compensation(
    complaint_id: IdPath,
    body: CompensationIn,
    caller: Caller = Depends(workers),
    svc: Services = Depends(services),
) -> ComplaintOut:
    return await _changed(
        svc,
        caller,
        complaint_id,
        lambda session, complaint: complaints.propose_compensation(
            session,
            svc.complaint_rules,
            complaint,
            amount=body.amount,
            at=svc.clock.now(),
            actor_id=caller.id,
        ),
    )


@router.post("/{complaint_id}/compensation/approve", response_model=ComplaintOut)
async def approve_compensation(
    complaint_id: IdPath, caller: Caller = Depends(managers), svc: Services = Depends(services)
) -> ComplaintOut:
    at = svc.clock.now()
    async with svc.database.session() as session:
        complaint = await complaints.get_or_raise(session, complaint_id)
        await complaints.approve_compensation(session, complaint, at=at, approver_id=caller.id)
        await tickets.record_by(
            session,
            caller,
            what="complaint",
            ticket_id=complaint.id,
            action="complaint.compensation_approved",
            at=at,
            detail={"amount": str(complaint.compensation)},
        )
        return await _shown(session, complaint, svc)
