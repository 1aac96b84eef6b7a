"""Repairs (报修): reported, passed to the crew at once with an arrival deadline, followed by
customer service during and after the work; the record is the evidence for rating crews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import Satisfaction
from crm.customers.models import Customer
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.projects.models import Project
from crm.query_filters import equal_where_given
from crm.repairs.models import Repair, RepairStatus


async def get_or_raise(session: AsyncSession, repair_id: int) -> Repair:
    repair = await session.get(Repair, repair_id)
    if repair is None:
        raise NotFound(f"no repair {repair_id}", code="repair_not_found")
    return repair


async def report(
    session: AsyncSession,
    *,
    customer_id: int,
    description: str,
    reported_at: datetime,
    arrival_within: timedelta,
    project_id: int | None = None,
    crew: str | None = None,
    call_id: int | None = None,
    reported_by_id: int | None = None,
) -> Repair:
    """A repair report goes to the crew at once: the project's crew unless another is named."""
    problems = []
    customer = await session.get(Customer, customer_id)
    if customer is None:
        problems.append(Problem("customer_id", "customer_not_found", "no such customer"))
    project = await session.get(Project, project_id) if project_id is not None else None
    if project_id is not None and (project is None or project.customer_id != customer_id):
        problems.append(
            Problem("project_id", "project_not_customers", "this project is not the customer's")
        )
    crew_name = (crew or (project.crew if project else "") or "").strip()
    if not crew_name:
        problems.append(Problem("crew", "required", "which crew does the repair"))
    if not description.strip():
        problems.append(Problem("description", "required", "describe what needs repairing"))
    if problems:
        raise ValidationError.of(problems)
    repair = Repair(
        customer_id=customer_id,
        project_id=project_id,
        call_id=call_id,
        reported_by_id=reported_by_id,
        description=description.strip(),
        crew=crew_name,
        status=RepairStatus.ASSIGNED,
        reported_at=reported_at,
        arrival_due_at=reported_at + arrival_within,
        notes="",
    )
    session.add(repair)
    await session.flush()
    return repair


def _check_time(repair: Repair, at: datetime, now: datetime) -> None:
    if at > now:
        raise ValidationError(
            "this cannot be recorded in the future", code="in_the_future", field="at"
        )
    if at < repair.reported_at:
        raise ValidationError("this cannot precede the report", code="before_receipt", field="at")


async def arrived(session: AsyncSession, repair: Repair, *, at: datetime, now: datetime) -> Repair:
    if repair.status is not RepairStatus.ASSIGNED:
        raise Conflict(f"the repair is {repair.status.value}", code="repair_not_assigned")
    _check_time(repair, at, now)
    repair.arrived_at, repair.status = at, RepairStatus.ON_SITE
    await session.flush()
    return repair


async def completed(
    session: AsyncSession, repair: Repair, *, at: datetime, now: datetime, notes: str = ""
) -> Repair:
    if repair.status is not RepairStatus.ON_SITE:
        raise Conflict("the crew has not arrived yet", code="repair_not_on_site")
    _check_time(repair, at, now)
    repair.completed_at, repair.status = at, RepairStatus.DONE
    if notes.strip():
        repair.notes = "\n".join(filter(None, [repair.notes, notes.strip()]))
    await session.flush()
    return repair


async def call_during(
    session: AsyncSession, repair: Repair, *, at: datetime, notes: str = ""
) -> Repair:
    """Customer service checks in while the crew is at work."""
    if repair.status is not RepairStatus.ON_SITE:
        raise Conflict(
            "the call during the repair is made while the crew is on site",
            code="repair_not_on_site",
        )
    repair.during_call_at = at
    if notes.strip():
        repair.notes = "\n".join(filter(None, [repair.notes, notes.strip()]))
    await session.flush()
    return repair


async def call_after(
    session: AsyncSession,
    repair: Repair,
    *,
    at: datetime,
    satisfaction: Satisfaction,
    notes: str = "",
) -> Repair:
    """Was the customer satisfied with the result? Closes the repair either way: an
    unsatisfied customer is a complaint, opened by the agent with this repair as evidence."""
    if repair.status is not RepairStatus.DONE:
        raise Conflict("the call after the repair is made once it is done", code="repair_not_done")
    repair.after_call_at, repair.satisfaction = at, satisfaction
    repair.status = RepairStatus.CLOSED
    if notes.strip():
        repair.notes = "\n".join(filter(None, [repair.notes, notes.strip()]))
    await session.flush()
    return repair


async def get_list(
    session: AsyncSession,
    *,
    now: datetime,
    status: RepairStatus | None = None,
    overdue: bool = False,
    crew: str | None = None,
    customer_id: int | None = None,
    limit: int = 200,
) -> list[Repair]:
    query = select(Repair)
    query = equal_where_given(
        query,
        (Repair.status, status),
        (Repair.crew, crew),
        (Repair.customer_id, customer_id),
    )
    if overdue:
        query = query.where(
            Repair.status == RepairStatus.ASSIGNED, Repair.arrival_due_at < now
        ).order_by(Repair.arrival_due_at)
    else:
        query = query.order_by(Repair.id.desc())
    return list(await session.scalars(query.limit(limit)))


@dataclass(frozen=True, slots=True)
class CrewRecord:
    crew: str
    repairs: int
    arrived: int
    arrived_on_time: int
    satisfied: int
    neutral: int
    unsatisfied: int

    @property
    def on_time_rate(self) -> float | None:
        return self.arrived_on_time / self.arrived if self.arrived else None


async def crew_records(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> list[CrewRecord]:
    """Each crew's repairs reported in the period: arrivals within the limit and the
    customers' verdicts (the evidence for rating crews)."""

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            Repair.crew,
            func.count(Repair.id),
            count(Repair.arrived_at.is_not(None)),
            count(Repair.arrived_at <= Repair.arrival_due_at),
            count(Repair.satisfaction == Satisfaction.SATISFIED),
            count(Repair.satisfaction == Satisfaction.NEUTRAL),
            count(Repair.satisfaction == Satisfaction.UNSATISFIED),
        )
        .group_by(Repair.crew)
        .order_by(Repair.crew)
    )
    if since is not None:
        query = query.where(Repair.reported_at >= since)
    if until is not None:
        query = query.where(Repair.reported_at < until)
    return [
        CrewRecord(crew, int(n), int(a or 0), int(t or 0), int(s or 0), int(m or 0), int(u or 0))
        for crew, n, a, t, s, m, u in await session.execute(query)
    ]
