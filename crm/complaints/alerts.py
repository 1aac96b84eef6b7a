"""Warnings for complaints and repairs about to be, or already, late: each warning is claimed
once in the database (a conditional UPDATE), so several server processes never repeat it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.complaints.models import Complaint, ComplaintEvent, ComplaintEventKind, ComplaintStatus
from crm.complaints.rules import ComplaintRules
from crm.complaints.service import most_urgent, time_limits_of
from crm.complaints.time_limits import TimeLimitState
from crm.customers.models import Customer
from crm.repairs.models import Repair, RepairStatus
from crm.users.models import Role, User


class AlertSubject(StrEnum):
    """What a warning is about (the browser's toast links to it)."""

    COMPLAINT = "complaint"
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertSubject
    id: int
    step: str  # the complaint step, or "arrival" for a repair
    state: TimeLimitState  # DUE_SOON or OVERDUE
    due_at: datetime
    customer: str
    owner: str  # the department, or the crew
    recipients: tuple[int, ...]


async def _claim(
    session: AsyncSession,
    model: type[Complaint] | type[Repair],
    row_id: int,
    old: str | None,
    new: str,
) -> bool:
    column = model.alert_state
    result = await session.execute(
        update(model)
        .where(model.id == row_id, column.is_(None) if old is None else column == old)
        .values(alert_state=new)
    )  # also updates the loaded object
    return bool(getattr(result, "rowcount", 0))


async def _people(session: AsyncSession) -> tuple[list[int], dict[str, list[int]]]:
    rows = (
        await session.execute(
            select(User.id, User.role, User.department).where(
                User.is_active.is_(True), User.role.in_([Role.SUPERVISOR, Role.DEPARTMENT])
            )
        )
    ).all()
    supervisors = [uid for uid, role, _ in rows if role is Role.SUPERVISOR]
    departments: dict[str, list[int]] = {}
    for uid, role, department in rows:
        if role is Role.DEPARTMENT and department:
            departments.setdefault(department, []).append(uid)
    return supervisors, departments


async def claim_alerts(
    session: AsyncSession, rules: ComplaintRules, *, now: datetime
) -> list[Alert]:
    """The warnings not yet sent: the complaint's most urgent step (recipients: its first
    contact, its manager, the department's people, the supervisors), and repairs whose crew
    has not arrived (the reporter and the supervisors)."""
    supervisors, departments = await _people(session)
    alerts: list[Alert] = []
    complaints = await session.execute(
        select(Complaint, Customer.name)
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(Complaint.status != ComplaintStatus.CLOSED, Complaint.next_due_at.is_not(None))
        .order_by(Complaint.next_due_at)
    )  # open complaints are few: each clock is computed
    for complaint, customer in complaints.all():
        urgent = most_urgent(time_limits_of(complaint, rules, now))
        if urgent is None or urgent.due_at is None:
            continue
        key = f"{complaint.reopened}:{urgent.step.value}:{urgent.state.value}"
        if key == complaint.alert_state or not await _claim(
            session, Complaint, complaint.id, complaint.alert_state, key
        ):
            continue
        recipients = {*supervisors, *departments.get(complaint.department, ())}
        recipients.update(u for u in (complaint.first_contact_id, complaint.manager_id) if u)
        session.add(
            ComplaintEvent(
                complaint_id=complaint.id,
                at=now,
                actor_id=None,
                kind=ComplaintEventKind.ALERT,
                detail={"step": urgent.step.value, "state": urgent.state.value},
            )
        )
        alerts.append(
            Alert(
                AlertSubject.COMPLAINT,
                complaint.id,
                urgent.step.value,
                urgent.state,
                urgent.due_at,
                customer,
                complaint.department,
                tuple(sorted(recipients)),
            )
        )
    soon = now + rules.repair_arrival * rules.limits.due_soon
    repairs = await session.execute(
        select(Repair, Customer.name)
        .join(Customer, Customer.id == Repair.customer_id)
        .where(
            Repair.status == RepairStatus.ASSIGNED,
            Repair.arrival_due_at <= soon,
            or_(Repair.alert_state.is_(None), Repair.alert_state != "arrival:overdue"),
        )
    )
    for repair, customer in repairs.all():
        state = TimeLimitState.OVERDUE if now > repair.arrival_due_at else TimeLimitState.DUE_SOON
        key = f"arrival:{state.value}"
        if key == repair.alert_state or not await _claim(
            session, Repair, repair.id, repair.alert_state, key
        ):
            continue
        recipients = {*supervisors, *([repair.reported_by_id] if repair.reported_by_id else [])}
        alerts.append(
            Alert(
                AlertSubject.REPAIR,
                repair.id,
                "arrival",
                state,
                repair.arrival_due_at,
                customer,
                repair.crew,
                tuple(sorted(recipients)),
            )
        )
    await session.flush()
    return alerts
