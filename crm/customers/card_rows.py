"""The customer card's records in one round trip: projects, their callbacks with the complaint
each calls back about, every attempt with its agent's name, and the recent calls with theirs.

Why one UNION ALL of sparse rows (each branch fills its own columns, the others are typed
NULLs) rather than the alternatives, measured on the screen-pop bench (issue 19):
- one statement per table (the card's former path) cost 2 round trips for a plain customer
  and up to 7 for one with projects, callbacks, attempts and calls: each is a trip through
  the driver's thread (aiosqlite) or the network (asyncpg), which is most of a pop's cost;
- a flat join (projects × callbacks × attempts) multiplies rows, and recent calls do not join
  to projects at all;
- JSON aggregation (`json_group_array` on SQLite, `json_agg` on PostgreSQL) needs two
  dialects' SQL and returns timestamps as text in each database's own format, so the card's
  values would depend on the database; the UNION keeps every column's SQLAlchemy type, so the
  values are exactly what the ORM reads (timezone-aware UTC timestamps, enums, dates).
Every branch starts from an index: projects by `customer_id`, callbacks by
`ix_callback_tasks_project_id`, attempts by `task_id`, complaints by their unique
`callback_task_id`, users by key, calls by `customer_id` (no full scans; tests/
test_lookup_plans.py reads the plans on both databases). The statement is built once, so its
compiled form is cached; `:customer_id` is its only parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import (
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.calls.models import Call, CallOutcome, Direction
from crm.campaigns import models as _campaigns  # noqa: F401  attempts.campaign_id's type
from crm.complaints.models import Complaint
from crm.projects.models import Project, ProjectStatus
from crm.users.models import User

RECENT_CALLS = 10  # the card shows this many of the customer's latest calls

PROJECT, TASK, ATTEMPT, CALL = 0, 1, 2, 3


@dataclass(frozen=True, slots=True)
class ProjectOnCard:
    id: int
    contract_number: str
    address: str
    designer: str
    project_manager: str
    foreman: str
    crew: str
    status: ProjectStatus
    contract_date: date | None
    start_date: date | None
    concealed_works_date: date | None
    midterm_date: date | None
    completion_date: date | None


@dataclass(frozen=True, slots=True)
class AttemptOnCard:
    id: int
    task_id: int
    started_at: datetime
    made_by: MadeBy
    agent_id: int | None
    agent_name: str | None
    campaign_id: int | None
    outcome: Outcome | None
    satisfaction: dict[str, Satisfaction | None]
    notes: str
    call_id: int | None
    call_back_at: datetime | None


@dataclass(frozen=True, slots=True)
class TaskOnCard:
    id: int
    project_id: int
    stage: Stage
    month: int
    complaint_id: int | None  # the complaint it calls back about (complaint call backs only)
    due_date: date
    latest_date: date
    status: TaskStatus
    effective: bool
    attempt_count: int
    attempts: list[AttemptOnCard] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CallOnCard:
    id: int
    started_at: datetime
    direction: Direction
    outcome: CallOutcome | None
    queue: str | None
    agent_name: str | None
    talk_seconds: float | None


@dataclass(frozen=True, slots=True)
class CardRecords:
    """A customer's card records, each list in the card's order."""

    projects: list[ProjectOnCard]
    tasks: list[TaskOnCard]  # by due date, month, id; not cancelled
    calls: list[CallOnCard]  # latest first


_customer: BindParameter[int] = bindparam("customer_id", type_=Integer)
_agent = User.__table__.alias("agent")
_project, _task, _attempt, _call = (
    Project.__table__,
    CallbackTask.__table__,
    CallbackAttempt.__table__,
    Call.__table__,
)
_complaint = Complaint.__table__

_recent = (
    select(
        _call.c.id,
        _call.c.started_at,
        _call.c.direction,
        _call.c.outcome,
        _call.c.queue,
        _call.c.agent_id,
        _call.c.talk_seconds,
    )
    .where(_call.c.customer_id == _customer)
    .order_by(_call.c.started_at.desc(), _call.c.id.desc())
    .limit(RECENT_CALLS)
    .subquery("recent")  # SQLite takes no ORDER BY/LIMIT in a UNION's member
)

# Each kind's columns, by the label it has in the union.
_COLUMNS: dict[int, dict[str, ColumnElement[Any]]] = {
    PROJECT: {
        "id": _project.c.id,
        "p_contract_number": _project.c.contract_number,
        "p_address": _project.c.address,
        "p_designer": _project.c.designer,
        "p_project_manager": _project.c.project_manager,
        "p_foreman": _project.c.foreman,
        "p_crew": _project.c.crew,
        "p_status": _project.c.status,
        "p_contract_date": _project.c.contract_date,
        "p_start_date": _project.c.start_date,
        "p_concealed_works_date": _project.c.concealed_works_date,
        "p_midterm_date": _project.c.midterm_date,
        "p_completion_date": _project.c.completion_date,
    },
    TASK: {
        "id": _task.c.id,
        "t_project_id": _task.c.project_id,
        "t_stage": _task.c.stage,
        "t_month": _task.c.month,
        "t_complaint_id": _task.c.complaint_id,
        "t_linked_complaint_id": _complaint.c.id,
        "t_due_date": _task.c.due_date,
        "t_latest_date": _task.c.latest_date,
        "t_status": _task.c.status,
        "t_effective": _task.c.effective,
        "t_attempt_count": _task.c.attempt_count,
    },
    ATTEMPT: {
        "id": _attempt.c.id,
        "a_task_id": _attempt.c.task_id,
        "a_started_at": _attempt.c.started_at,
        "a_made_by": _attempt.c.made_by,
        "a_agent_id": _attempt.c.agent_id,
        "agent_name": _agent.c.display_name,
        "a_campaign_id": _attempt.c.campaign_id,
        "a_outcome": _attempt.c.outcome,
        "a_satisfaction_quality": _attempt.c.satisfaction_quality,
        "a_satisfaction_crew": _attempt.c.satisfaction_crew,
        "a_satisfaction_supervisor": _attempt.c.satisfaction_supervisor,
        "a_satisfaction_designer": _attempt.c.satisfaction_designer,
        "a_notes": _attempt.c.notes,
        "a_call_id": _attempt.c.call_id,
        "a_call_back_at": _attempt.c.call_back_at,
    },
    CALL: {
        "id": _recent.c.id,
        "c_started_at": _recent.c.started_at,
        "c_direction": _recent.c.direction,
        "c_outcome": _recent.c.outcome,
        "c_queue": _recent.c.queue,
        "agent_name": _agent.c.display_name,
        "c_talk_seconds": _recent.c.talk_seconds,
    },
}


def _labels() -> dict[str, Any]:
    """Every label of the union with its column's type (the first kind that has it)."""
    types: dict[str, Any] = {}
    for columns in _COLUMNS.values():
        for label, column in columns.items():
            types.setdefault(label, column.type)
    return types


_TYPES = _labels()


def _branch(kind: int, query: Select[Any]) -> Select[Any]:
    """One kind's rows, its columns in place and every other kind's as a typed NULL (the
    types make PostgreSQL's UNION agree and give every value its ORM type on the way back)."""
    own = _COLUMNS[kind]
    columns = [literal_column(str(kind)).label("kind")] + [
        (own[label] if label in own else cast(null(), kind_type)).label(label)
        for label, kind_type in _TYPES.items()
    ]
    return query.with_only_columns(*columns, maintain_column_froms=False)


def _card_query() -> CompoundSelect[Any]:
    live_task = _task.c.status != TaskStatus.CANCELLED.value
    owned = _project.c.customer_id == _customer
    projects = select(_project).where(owned)
    tasks = (
        select(_task)
        .select_from(
            _project.join(_task, _task.c.project_id == _project.c.id).outerjoin(
                _complaint, _complaint.c.callback_task_id == _task.c.id
            )
        )
        .where(owned, live_task)
    )
    attempts = (
        select(_attempt)
        .select_from(
            _project.join(_task, _task.c.project_id == _project.c.id)
            .join(_attempt, _attempt.c.task_id == _task.c.id)
            .outerjoin(_agent, _agent.c.id == _attempt.c.agent_id)
        )
        .where(owned, live_task)
    )
    calls = select(_recent).select_from(
        _recent.outerjoin(_agent, _agent.c.id == _recent.c.agent_id)
    )
    return union_all(
        _branch(PROJECT, projects),
        _branch(TASK, tasks),
        _branch(ATTEMPT, attempts),
        _branch(CALL, calls),
    )


_CARD = _card_query()


async def card_records(session: AsyncSession, *, customer_id: int) -> CardRecords:
    """Everything the card shows beyond the customer's own fields, in one statement."""
    projects: list[ProjectOnCard] = []
    tasks: list[TaskOnCard] = []
    attempts: list[AttemptOnCard] = []
    calls: list[CallOnCard] = []
    for row in await session.execute(_CARD, {"customer_id": customer_id}):
        if row.kind == PROJECT:
            projects.append(_project_row(row))
        elif row.kind == TASK:
            tasks.append(_task_row(row))
        elif row.kind == ATTEMPT:
            attempts.append(_attempt_row(row))
        else:
            calls.append(_call_row(row))
    # The card's orders, as each list was read before (the UNION keeps none).
    projects.sort(key=_latest_contract_first)
    tasks.sort(key=lambda t: (t.due_date, t.month, t.id))
    by_task = {t.id: t for t in tasks}
    for attempt in sorted(attempts, key=lambda a: (a.started_at, a.id)):
        by_task[attempt.task_id].attempts.append(attempt)
    calls.sort(key=lambda c: (c.started_at, c.id), reverse=True)
    return CardRecords(projects=projects, tasks=tasks, calls=calls)


def _latest_contract_first(project: ProjectOnCard) -> tuple[bool, int, int]:
    """contract_date DESC NULLS LAST, id DESC."""
    day = project.contract_date
    return (day is None, -day.toordinal() if day else 0, -project.id)


def _project_row(row: Any) -> ProjectOnCard:
    return ProjectOnCard(
        id=row.id,
        contract_number=row.p_contract_number,
        address=row.p_address,
        designer=row.p_designer,
        project_manager=row.p_project_manager,
        foreman=row.p_foreman,
        crew=row.p_crew,
        status=row.p_status,
        contract_date=row.p_contract_date,
        start_date=row.p_start_date,
        concealed_works_date=row.p_concealed_works_date,
        midterm_date=row.p_midterm_date,
        completion_date=row.p_completion_date,
    )


def _task_row(row: Any) -> TaskOnCard:
    complaint_id = None
    if row.t_stage is Stage.COMPLAINT:  # the complaint's link first, the old field's after
        complaint_id = (
            row.t_linked_complaint_id
            if row.t_linked_complaint_id is not None
            else row.t_complaint_id
        )
    return TaskOnCard(
        id=row.id,
        project_id=row.t_project_id,
        stage=row.t_stage,
        month=row.t_month,
        complaint_id=complaint_id,
        due_date=row.t_due_date,
        latest_date=row.t_latest_date,
        status=row.t_status,
        effective=row.t_effective,
        attempt_count=row.t_attempt_count,
    )


def _attempt_row(row: Any) -> AttemptOnCard:
    return AttemptOnCard(
        id=row.id,
        task_id=row.a_task_id,
        started_at=row.a_started_at,
        made_by=row.a_made_by,
        agent_id=row.a_agent_id,
        agent_name=row.agent_name,
        campaign_id=row.a_campaign_id,
        outcome=row.a_outcome,
        satisfaction={
            "quality": row.a_satisfaction_quality,
            "crew": row.a_satisfaction_crew,
            "supervisor": row.a_satisfaction_supervisor,
            "designer": row.a_satisfaction_designer,
        },
        notes=row.a_notes,
        call_id=row.a_call_id,
        call_back_at=row.a_call_back_at,
    )


def _call_row(row: Any) -> CallOnCard:
    return CallOnCard(
        id=row.id,
        started_at=row.c_started_at,
        direction=row.c_direction,
        outcome=row.c_outcome,
        queue=row.c_queue,
        agent_name=row.agent_name,
        talk_seconds=row.c_talk_seconds,
    )


__all__: Sequence[str] = ("CardRecords", "card_records")
