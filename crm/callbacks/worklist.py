"""An agent's worklist: the callbacks due today or overdue that they should make — those they
promised a customer ("稍后再打", call later: theirs until made) and those nobody has promised
(the shared pool) — by deadline; and the reminders of promised call backs when their time
comes, each claimed once in the database so any number of processes send it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from crm.callbacks.models import (
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Stage,
    TaskStatus,
)
from crm.clock import day_start
from crm.customers.cards import PhoneCard, phone_card
from crm.customers.models import Customer, Grade
from crm.projects.models import Project

# An attempt not finished after this long is no longer someone dialing the task now (an
# answered call whose agent never logged it): the task comes back to the worklists.
DIALING_HOLD = timedelta(hours=1)
# Promised call backs older than this when first seen (a server away for days, old data) are
# not reminded of any more: the worklist still shows them.
REMINDER_HORIZON = timedelta(days=1)
WORKLIST_SIZE = 100

WORKABLE = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS)


class WorkItem(BaseModel):
    """A callback in an agent's worklist, with what calling it needs (the console's answer
    as it is)."""

    model_config = ConfigDict(frozen=True)

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
    phone: PhoneCard | None  # the customer's first number (what the dial button calls)
    promised_at: datetime | None  # the agent promised the customer a call at this time
    mine: bool  # promised by this agent (else: the shared pool)
    attempt_count: int


def _latest_attempt_id() -> ColumnElement[int]:
    """The newest attempt of the task in the outer query."""
    return (
        select(CallbackAttempt.id)
        .where(CallbackAttempt.task_id == CallbackTask.id)
        .order_by(CallbackAttempt.started_at.desc(), CallbackAttempt.id.desc())
        .limit(1)
        .correlate(CallbackTask)
        .scalar_subquery()
    )


async def worklist(
    session: AsyncSession, *, agent_id: int, now: datetime, tz: ZoneInfo, limit: int = WORKLIST_SIZE
) -> list[WorkItem]:
    """The open callbacks due by today (local) the agent should make, by deadline: a task
    someone is dialing now is left out, and so is one another agent promised to call back."""
    today = now.astimezone(tz).date()
    tomorrow = day_start(today + timedelta(days=1), tz)
    latest = aliased(CallbackAttempt)
    dialing = aliased(CallbackAttempt)
    promised = and_(  # false, never unknown, for an attempt without an outcome yet
        latest.outcome.is_not(None),
        latest.outcome == Outcome.CALL_LATER,
        latest.made_by == MadeBy.AGENT,
        latest.agent_id.is_not(None),
    )
    rows = await session.execute(
        select(CallbackTask, Project.contract_number, Customer, latest)
        .join(Project, Project.id == CallbackTask.project_id)
        .join(Customer, Customer.id == Project.customer_id)
        .outerjoin(latest, latest.id == _latest_attempt_id())
        .options(selectinload(Customer.phones))
        .where(
            CallbackTask.status.in_(WORKABLE),
            CallbackTask.due_date <= today,
            CallbackTask.not_before.is_(None) | (CallbackTask.not_before < tomorrow),
            ~select(dialing.id)
            .where(
                dialing.task_id == CallbackTask.id,
                dialing.outcome.is_(None),
                dialing.started_at > now - DIALING_HOLD,
            )
            .exists(),
            or_(latest.id.is_(None), ~promised, latest.agent_id == agent_id),
        )
        .order_by(
            CallbackTask.latest_date,
            CallbackTask.not_before.is_(None),
            CallbackTask.not_before,
            CallbackTask.priority,
            CallbackTask.due_date,
            CallbackTask.id,
        )
        .limit(limit)
    )
    items = []
    for task, contract_number, customer, last in rows:
        first = customer.phones[0] if customer.phones else None
        mine = (
            last is not None
            and last.outcome is Outcome.CALL_LATER
            and last.made_by is MadeBy.AGENT
            and last.agent_id == agent_id
        )
        items.append(
            WorkItem(
                task_id=task.id,
                project_id=task.project_id,
                contract_number=contract_number,
                stage=task.stage,
                month=task.month,
                due_date=task.due_date,
                latest_date=task.latest_date,
                overdue=task.latest_date < today,
                customer_id=customer.id,
                customer_name=customer.name,
                grade=customer.grade,
                do_not_call=customer.do_not_call,
                phone=phone_card(first.number, first.extension, first.kind) if first else None,
                promised_at=last.call_back_at if mine else None,
                mine=mine,
                attempt_count=task.attempt_count,
            )
        )
    return items


@dataclass(frozen=True, slots=True)
class CallBackReminder:
    """Time to make the call back an agent promised a customer."""

    attempt_id: int
    agent_id: int
    task_id: int
    stage: Stage
    month: int
    call_back_at: datetime
    customer_id: int
    customer_name: str
    contract_number: str


async def claim_reminders(session: AsyncSession, *, now: datetime) -> list[CallBackReminder]:
    """The promised call backs whose time has come, each claimed (marked reminded) here, so
    it is reminded once whichever process asks: the agent's last attempt at a task still open
    was "call later", at a time now past (within the horizon)."""
    later = aliased(CallbackAttempt)
    rows = await session.execute(
        select(CallbackAttempt, CallbackTask, Customer.id, Customer.name, Project.contract_number)
        .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
        .join(Project, Project.id == CallbackTask.project_id)
        .join(Customer, Customer.id == Project.customer_id)
        .where(
            CallbackAttempt.outcome == Outcome.CALL_LATER,
            CallbackAttempt.made_by == MadeBy.AGENT,
            CallbackAttempt.agent_id.is_not(None),
            CallbackAttempt.reminded_at.is_(None),
            CallbackAttempt.call_back_at <= now,
            CallbackAttempt.call_back_at > now - REMINDER_HORIZON,
            CallbackTask.status.in_(WORKABLE),
            ~select(later.id)
            .where(
                later.task_id == CallbackAttempt.task_id,
                later.id != CallbackAttempt.id,
                later.started_at >= CallbackAttempt.started_at,
            )
            .exists(),
        )
        .order_by(CallbackAttempt.call_back_at, CallbackAttempt.id)
    )
    claimed = []
    for attempt, task, customer_id, customer_name, contract_number in rows:
        won = await session.execute(
            update(CallbackAttempt)
            .where(CallbackAttempt.id == attempt.id, CallbackAttempt.reminded_at.is_(None))
            .values(reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(won, "rowcount", 0) != 1:
            continue  # another process reminded of it first
        assert attempt.agent_id is not None and attempt.call_back_at is not None
        claimed.append(
            CallBackReminder(
                attempt_id=attempt.id,
                agent_id=attempt.agent_id,
                task_id=task.id,
                stage=task.stage,
                month=task.month,
                call_back_at=attempt.call_back_at,
                customer_id=customer_id,
                customer_name=customer_name,
                contract_number=contract_number,
            )
        )
    return claimed
