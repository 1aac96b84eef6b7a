"""Complaint tickets: opened by whoever received them, worked by the department step by step
against the clocks, escalated to the manager when major, closed only by a satisfied customer
on customer service's call back; a customer not satisfied sends the complaint back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import CallbackAttempt, CallbackTask, Stage, TaskStatus
from crm.complaints.models import (
    Complaint,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintGrade,
    ComplaintSource,
    ComplaintStatus,
)
from crm.complaints.rules import CATEGORIES, ComplaintRules
from crm.complaints.time_limits import Step, TimeLimit, TimeLimitState, next_deadline, time_limits
from crm.customers.models import Customer
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.projects.models import Project
from crm.query_filters import equal_where_given
from crm.references import referenced
from crm.users.models import Role, User

_STEP_FIELDS = {
    Step.SIGNED: "signed_at",
    Step.VERIFIED: "verified_at",
    Step.SOLUTION: "solution_at",
    Step.RESOLVED: "resolved_at",
}
DEPARTMENT_STEPS = tuple(_STEP_FIELDS)
_STEP_EVENTS = {
    Step.SIGNED: ComplaintEventKind.SIGNED,
    Step.VERIFIED: ComplaintEventKind.VERIFIED,
    Step.SOLUTION: ComplaintEventKind.SOLUTION,
    Step.RESOLVED: ComplaintEventKind.RESOLVED,
}


def done_steps(complaint: Complaint) -> dict[Step, datetime | None]:
    done: dict[Step, datetime | None] = {s: getattr(complaint, f) for s, f in _STEP_FIELDS.items()}
    done[Step.CALLBACK] = complaint.callback_at if complaint.callback_satisfied else None
    return done


def time_limits_of(complaint: Complaint, rules: ComplaintRules, now: datetime) -> list[TimeLimit]:
    """Every step's time limit at `now`, counted from receipt or from the latest reopening."""
    return time_limits(
        complaint.clocks_from,
        done_steps(complaint),
        major=complaint.grade is ComplaintGrade.MAJOR,
        now=now,
        limits=rules.limits,
        calendar=rules.calendar,
        tz=rules.tz,
    )


def most_urgent(step_limits: list[TimeLimit]) -> TimeLimit | None:
    """The open step that most needs someone: overdue before due soon, earliest first."""
    for state in (TimeLimitState.OVERDUE, TimeLimitState.DUE_SOON):
        pending = [c for c in step_limits if c.state is state and c.due_at is not None]
        if pending:
            return min(pending, key=lambda c: c.due_at or c.step)
    return None


def _refresh_due(complaint: Complaint, rules: ComplaintRules) -> None:
    if complaint.status is ComplaintStatus.CLOSED:
        complaint.next_due_at = None
    else:
        complaint.next_due_at = next_deadline(
            time_limits_of(complaint, rules, complaint.clocks_from)
        )


def _event(
    session: AsyncSession,
    complaint: Complaint,
    kind: ComplaintEventKind,
    at: datetime,
    actor_id: int | None,
    **detail: Any,
) -> None:
    session.add(
        ComplaintEvent(
            complaint_id=complaint.id, at=at, actor_id=actor_id, kind=kind, detail=detail
        )
    )


async def get_or_raise(session: AsyncSession, complaint_id: int) -> Complaint:
    complaint = await session.get(Complaint, complaint_id)
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id}", code="complaint_not_found")
    return complaint


async def events_of(session: AsyncSession, complaint_id: int) -> list[ComplaintEvent]:
    return list(
        await session.scalars(
            select(ComplaintEvent)
            .where(ComplaintEvent.complaint_id == complaint_id)
            .order_by(ComplaintEvent.at, ComplaintEvent.id)
        )
    )


def _check_fields(
    rules: ComplaintRules, *, department: str, category: str, description: str
) -> list[Problem]:
    problems = []
    if department not in rules.departments:
        problems.append(
            Problem("department", "unknown_department", f"unknown department {department!r}")
        )
    if category not in CATEGORIES:
        problems.append(Problem("category", "unknown_category", f"unknown category {category!r}"))
    if not description.strip():
        problems.append(Problem("description", "required", "describe the complaint"))
    return problems


async def open_complaint(
    session: AsyncSession,
    rules: ComplaintRules,
    *,
    customer_id: int,
    source: ComplaintSource,
    department: str,
    category: str,
    description: str,
    received_at: datetime,
    grade: ComplaintGrade = ComplaintGrade.GENERAL,
    project_id: int | None = None,
    customer_demand: str = "",
    call_id: int | None = None,
    attempt_id: int | None = None,
    first_contact_id: int | None = None,
    manager_id: int | None = None,
) -> Complaint:
    """Record a complaint; its clocks start at receipt. The person who received it is its
    first contact (首问责任制) and stays recorded as such whoever works it later."""
    problems = _check_fields(
        rules, department=department, category=category, description=description
    )
    customer = await session.get(Customer, customer_id)
    if customer is None:
        problems.append(Problem("customer_id", "customer_not_found", "no such customer"))
    if project_id is not None:
        project = await session.get(Project, project_id)
        if project is None or project.customer_id != customer_id:
            problems.append(
                Problem("project_id", "project_not_customers", "this project is not the customer's")
            )
    if problems:
        raise ValidationError.of(problems)
    complaint = Complaint(
        customer_id=customer_id,
        project_id=project_id,
        source=source,
        call_id=call_id,
        attempt_id=attempt_id,
        first_contact_id=first_contact_id,
        manager_id=manager_id,
        department=department,
        category=category,
        description=description.strip(),
        customer_demand=customer_demand.strip(),
        grade=grade,
        status=ComplaintStatus.OPEN,
        received_at=received_at,
        clocks_from=received_at,
        reopened=0,
    )
    _refresh_due(complaint, rules)
    session.add(complaint)
    await session.flush()
    _event(
        session,
        complaint,
        ComplaintEventKind.OPENED,
        received_at,
        first_contact_id,
        source=source.value,
        department=department,
        grade=grade.value,
    )
    await session.flush()
    return complaint


# The previous release's web processes, still running during an upgrade, create a complaint's
# call-back task naming the complaint (CallbackTask.complaint_id) and leave
# Complaint.callback_task_id empty: the reads below fall back to that name (migration 0010).


async def callback_task_of(session: AsyncSession, *, complaint: Complaint) -> CallbackTask | None:
    """The task that calls the customer back about the complaint, once it was resolved."""
    if complaint.callback_task_id is not None:
        return await session.get(CallbackTask, complaint.callback_task_id)
    return await session.scalar(
        select(CallbackTask)
        .where(CallbackTask.stage == Stage.COMPLAINT, CallbackTask.complaint_id == complaint.id)
        .order_by(CallbackTask.id)
        .limit(1)
    )


async def called_back_by(session: AsyncSession, *, task: CallbackTask) -> Complaint | None:
    """The complaint a call-back task is about (None for a stage of the schedule)."""
    if task.stage is not Stage.COMPLAINT:
        return None
    linked = await session.scalar(select(Complaint).where(Complaint.callback_task_id == task.id))
    if linked is None and task.complaint_id is not None:
        return await session.get(Complaint, task.complaint_id)
    return linked


async def ids_by_callback_task(
    session: AsyncSession, *, tasks: Sequence[CallbackTask]
) -> dict[int, int]:
    """Task id → complaint id, for the complaint call backs among `tasks`."""
    calls_back = [t for t in tasks if t.stage is Stage.COMPLAINT]
    if not calls_back:
        return {}
    rows = await session.execute(
        select(Complaint.callback_task_id, Complaint.id).where(
            one_of(Complaint.callback_task_id, [t.id for t in calls_back])
        )
    )
    linked = {task_id: complaint_id for task_id, complaint_id in rows if task_id is not None}
    named = {t.id: t.complaint_id for t in calls_back if t.complaint_id is not None}
    return named | linked


def _require_open(complaint: Complaint) -> None:
    if complaint.status is not ComplaintStatus.OPEN:
        raise Conflict(
            f"the complaint is {complaint.status.value}", code=f"complaint_{complaint.status.value}"
        )


def _check_time(complaint: Complaint, at: datetime, now: datetime) -> None:
    if at > now:
        raise ValidationError(
            "a step cannot be recorded in the future", code="in_the_future", field="at"
        )
    if at < complaint.clocks_from:
        raise ValidationError(
            "a step cannot precede the complaint's receipt", code="before_receipt", field="at"
        )


async def advance(
    session: AsyncSession,
    rules: ComplaintRules,
    complaint: Complaint,
    step: Step,
    *,
    at: datetime,
    now: datetime,
    actor_id: int | None,
    signed_by: str | None = None,
    solution: str | None = None,
    visit_at: datetime | None = None,
    notes: str = "",
) -> Complaint:
    """Record a department step (signed, verified, solution, resolved), strictly in order."""
    if step not in _STEP_FIELDS:
        raise ValidationError(
            f"{step.value} is not a department step", code="unknown_step", field="step"
        )
    _require_open(complaint)
    _check_time(complaint, at, now)
    order = list(_STEP_FIELDS)
    if getattr(complaint, _STEP_FIELDS[step]) is not None:
        raise Conflict(f"{step.value} is already recorded", code="step_done")
    missing = [s for s in order[: order.index(step)] if getattr(complaint, _STEP_FIELDS[s]) is None]
    if missing:
        raise Conflict(f"record {missing[0].value} first", code="step_out_of_order")
    detail: dict[str, Any] = {"step": step.value, "notes": notes.strip()}
    if step is Step.SIGNED:
        if not (signed_by or "").strip():
            raise ValidationError(
                "say who signed for the department", code="required", field="signed_by"
            )
        complaint.signed_by = detail["signed_by"] = (signed_by or "").strip()
    elif step is Step.SOLUTION:
        problems = []
        if not (solution or "").strip():
            problems.append(Problem("solution", "required", "describe the solution"))
        if visit_at is None:
            problems.append(Problem("visit_at", "required", "when is the on-site visit"))
        if problems:
            raise ValidationError.of(problems)
        complaint.solution, complaint.visit_at = (solution or "").strip(), visit_at
        detail.update(
            solution=complaint.solution, visit_at=visit_at.isoformat() if visit_at else None
        )
    elif step is Step.RESOLVED:
        if complaint.compensation and complaint.compensation_approved_at is None:
            raise Conflict(
                "the compensation must be approved before the complaint is resolved",
                code="compensation_not_approved",
            )
        complaint.status = ComplaintStatus.RESOLVED
    setattr(complaint, _STEP_FIELDS[step], at)
    if step is Step.RESOLVED:
        await _schedule_call_back(session, rules, complaint, at)
    _refresh_due(complaint, rules)
    _event(session, complaint, _STEP_EVENTS[step], at, actor_id, **detail)
    await session.flush()
    return complaint


async def _schedule_call_back(
    session: AsyncSession, rules: ComplaintRules, complaint: Complaint, resolved_at: datetime
) -> None:
    """Customer service calls back after every resolution: a callback task campaigns and
    agents dial like any other (a complaint without a project hangs on the customer's latest
    project; a customer without any is called back by hand)."""
    project_id = complaint.project_id or await session.scalar(
        select(Project.id)
        .where(Project.customer_id == complaint.customer_id)
        .order_by(Project.contract_date.desc().nulls_last(), Project.id.desc())
        .limit(1)
    )
    if project_id is None:
        return
    customer = await session.get(Customer, complaint.customer_id)
    due = resolved_at.astimezone(rules.tz).date()
    latest = (resolved_at + rules.limits.callback).astimezone(rules.tz).date()
    priority = (
        1 if complaint.grade is ComplaintGrade.MAJOR else (customer.grade.rank if customer else 2)
    )
    task = await callback_task_of(session, complaint=complaint)
    if task is None:  # the first resolution; a reopened complaint's task is due again
        task = CallbackTask(
            project_id=project_id,
            stage=Stage.COMPLAINT,
            due_date=due,
            latest_date=latest,
            priority=priority,
            attempt_count=0,
        )
        session.add(task)
        await session.flush()
    complaint.callback_task_id = task.id
    task.complaint_id = complaint.id  # what the previous release reads (migration 0010)
    task.due_date, task.latest_date, task.priority = due, latest, priority
    task.status, task.effective, task.effective_at, task.not_before = (
        TaskStatus.PENDING,
        False,
        None,
        None,
    )


async def record_call_back(
    session: AsyncSession,
    rules: ComplaintRules,
    complaint: Complaint,
    *,
    satisfied: bool,
    at: datetime,
    actor_id: int | None,
    attempt_id: int | None = None,
    notes: str = "",
) -> Complaint:
    """The customer's verdict after the resolution: satisfied closes the complaint; not
    satisfied sends it back to the department with fresh clocks."""
    if complaint.status is not ComplaintStatus.RESOLVED:
        raise Conflict("only a resolved complaint is called back", code="not_resolved")
    complaint.callback_at, complaint.callback_satisfied = at, satisfied
    task = await callback_task_of(session, complaint=complaint)
    if task is not None and task.status is not TaskStatus.DONE:
        task.status, task.effective = TaskStatus.DONE, True
        task.effective_at = task.effective_at or at
    _event(
        session,
        complaint,
        ComplaintEventKind.CALL_BACK,
        at,
        actor_id,
        satisfied=satisfied,
        attempt_id=attempt_id,
        notes=notes.strip(),
    )
    if satisfied:
        complaint.status = ComplaintStatus.CLOSED
        await _close_origin_task(session, complaint, at)
    else:
        complaint.status = ComplaintStatus.OPEN
        complaint.reopened += 1
        complaint.clocks_from = at
        for field in _STEP_FIELDS.values():
            setattr(complaint, field, None)
        complaint.callback_satisfied = None
        _event(
            session, complaint, ComplaintEventKind.REOPENED, at, actor_id, round=complaint.reopened
        )
    _refresh_due(complaint, rules)
    await session.flush()
    return complaint


async def _close_origin_task(session: AsyncSession, complaint: Complaint, at: datetime) -> None:
    """A complaint raised by an unsatisfied stage callback: once every complaint from that
    callback is closed, the stage's follow-up is done."""
    if complaint.attempt_id is None:
        return
    still_open = await session.scalar(
        select(func.count(Complaint.id)).where(
            Complaint.attempt_id == complaint.attempt_id,
            Complaint.id != complaint.id,
            Complaint.status != ComplaintStatus.CLOSED,
        )
    )
    if still_open:
        return
    attempt = await session.get(CallbackAttempt, complaint.attempt_id)
    task = await session.get(CallbackTask, attempt.task_id) if attempt else None
    if task is not None and task.status is TaskStatus.PENDING and task.effective:
        task.status = TaskStatus.DONE


async def escalate(
    session: AsyncSession,
    rules: ComplaintRules,
    complaint: Complaint,
    *,
    at: datetime,
    actor_id: int | None,
    reason: str,
    manager_id: int | None = None,
) -> Complaint:
    """A general complaint the agent cannot resolve becomes major: the manager's, on site
    within the working-day limit counted from receipt."""
    if complaint.status is ComplaintStatus.CLOSED:
        raise Conflict("the complaint is closed", code="complaint_closed")
    if complaint.grade is ComplaintGrade.MAJOR and (manager_id in (None, complaint.manager_id)):
        raise Conflict("the complaint is already major", code="already_major")
    if not reason.strip():
        raise ValidationError("say why it is escalated", code="required", field="reason")
    if manager_id is not None:
        manager = await referenced(session, User, manager_id, field="manager_id", what="manager")
        if manager.role is not Role.SUPERVISOR or not manager.is_active:
            raise ValidationError(
                "a major complaint goes to a supervisor", code="not_a_manager", field="manager_id"
            )
    complaint.grade = ComplaintGrade.MAJOR
    complaint.manager_id = manager_id or complaint.manager_id
    _refresh_due(complaint, rules)
    _event(
        session,
        complaint,
        ComplaintEventKind.ESCALATED,
        at,
        actor_id,
        reason=reason.strip(),
        manager_id=complaint.manager_id,
    )
    await session.flush()
    return complaint


async def propose_compensation(
    session: AsyncSession,
    rules: ComplaintRules,
    complaint: Complaint,
    *,
    amount: Decimal,
    at: datetime,
    actor_id: int | None,
) -> Complaint:
    """Compensation makes a complaint major; a changed amount needs approving again."""
    if complaint.status is ComplaintStatus.CLOSED:
        raise Conflict("the complaint is closed", code="complaint_closed")
    if amount <= 0:
        raise ValidationError(
            "compensation is a positive amount", code="out_of_range", field="amount"
        )
    if complaint.grade is not ComplaintGrade.MAJOR:
        complaint.grade = ComplaintGrade.MAJOR
        _event(
            session, complaint, ComplaintEventKind.ESCALATED, at, actor_id, reason="compensation"
        )
    complaint.compensation = amount
    complaint.compensation_approved_by = complaint.compensation_approved_at = None
    _refresh_due(complaint, rules)
    _event(
        session,
        complaint,
        ComplaintEventKind.COMPENSATION_PROPOSED,
        at,
        actor_id,
        amount=str(amount),
    )
    await session.flush()
    return complaint


async def approve_compensation(
    session: AsyncSession, complaint: Complaint, *, at: datetime, approver_id: int
) -> Complaint:
    """Management approves the amount (booked to finance)."""
    if not complaint.compensation:
        raise Conflict("no compensation is proposed", code="no_compensation")
    if complaint.compensation_approved_at is not None:
        raise Conflict("the compensation is already approved", code="already_approved")
    complaint.compensation_approved_by, complaint.compensation_approved_at = approver_id, at
    _event(
        session,
        complaint,
        ComplaintEventKind.COMPENSATION_APPROVED,
        at,
        approver_id,
        amount=str(complaint.compensation),
    )
    await session.flush()
    return complaint


async def get_list(
    session: AsyncSession,
    rules: ComplaintRules,
    *,
    now: datetime,
    status: ComplaintStatus | None = None,
    state: TimeLimitState | None = None,
    department: str | None = None,
    customer_id: int | None = None,
    first_contact_id: int | None = None,
    limit: int = 200,
) -> list[Complaint]:
    """Complaints newest first, or by urgency when filtered by clock state."""
    query = select(Complaint)
    query = equal_where_given(
        query,
        (Complaint.status, status),
        (Complaint.department, department),
        (Complaint.customer_id, customer_id),
        (Complaint.first_contact_id, first_contact_id),
    )
    if state is None:
        return list(await session.scalars(query.order_by(Complaint.id.desc()).limit(limit)))
    query = query.where(
        Complaint.status != ComplaintStatus.CLOSED, Complaint.next_due_at.is_not(None)
    )
    if state is TimeLimitState.OVERDUE:
        query = query.where(Complaint.next_due_at < now)
    result = []
    for complaint in await session.scalars(query.order_by(Complaint.next_due_at)):
        urgent = most_urgent(time_limits_of(complaint, rules, now))
        if urgent is not None and urgent.state is state:
            result.append(complaint)
            if len(result) >= limit:
                break
    return result
