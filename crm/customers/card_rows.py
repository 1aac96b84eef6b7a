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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Integer,
    Select,
    String,
    Subquery,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import ReadOnlyColumnCollection

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
from crm.customers.models import Customer, Phone
from crm.projects.models import Project, ProjectStatus
from crm.users.models import User

RECENT_CALLS = 10  # the card shows this many of the customer's latest calls

PROJECT, TASK, ATTEMPT, CALL, OWNER = 0, 1, 2, 3, 4


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

_customers, _phones = Customer.__table__, Phone.__table__
_matched = _phones.alias("matched")
_number: BindParameter[str] = bindparam("number", type_=String)
# The caller's customer: the first (lowest id) of those having the number, as the pop's card
# has always been the first owner's; from the number's index (ix_phones_number_customer_id).
_first_owner = (
    select(func.min(_matched.c.customer_id)).where(_matched.c.number == _number).scalar_subquery()
)


def _recent_calls(customer: ColumnElement[int]) -> Subquery:
    return (
        select(
            _call.c.id,
            _call.c.started_at,
            _call.c.direction,
            _call.c.outcome,
            _call.c.queue,
            _call.c.agent_id,
            _call.c.talk_seconds,
        )
        .where(_call.c.customer_id == customer)
        .order_by(_call.c.started_at.desc(), _call.c.id.desc())
        .limit(RECENT_CALLS)
        .subquery("recent")  # SQLite takes no ORDER BY/LIMIT in a UNION's member
    )


_recent = _recent_calls(_customer)
_recent_of_first_owner = _recent_calls(_first_owner)

# Each kind's own fields, read from the columns of the same names under the kind's prefix
# (the union's columns are shared by every kind, so each kind's labels must differ).
_PROJECT_FIELDS = (
    "contract_number",
    "address",
    "designer",
    "project_manager",
    "foreman",
    "crew",
    "status",
    "contract_date",
    "start_date",
    "concealed_works_date",
    "midterm_date",
    "completion_date",
)
_TASK_FIELDS = (
    "project_id",
    "stage",
    "month",
    "due_date",
    "latest_date",
    "status",
    "effective",
    "attempt_count",
)
_ATTEMPT_FIELDS = (
    "task_id",
    "started_at",
    "made_by",
    "agent_id",
    "campaign_id",
    "outcome",
    "notes",
    "call_id",
    "call_back_at",
)
_SATISFACTION = ("quality", "crew", "supervisor", "designer")  # attempts' satisfaction_* columns
_CALL_FIELDS = ("started_at", "direction", "outcome", "queue", "talk_seconds")
# A phone owner's fields and one of their phones' (what crm.customers.service reads).
_OWNER_FIELDS = ("name", "grade", "address", "notes", "do_not_call", "do_not_call_reason")
_OWNER_PHONE_FIELDS = ("number", "extension", "kind")


def _own(
    prefix: str, columns: ReadOnlyColumnCollection[str, Any], names: Iterable[str]
) -> dict[str, ColumnElement[Any]]:
    """A kind's columns, each by its label in the union: the kind's prefix and its name."""
    return {f"{prefix}{name}": columns[name] for name in names}


def _values(row: Any, prefix: str, names: Iterable[str]) -> dict[str, Any]:
    """A kind's fields from a row of the union, by name (the labels _own gave them)."""
    return {name: getattr(row, f"{prefix}{name}") for name in names}


# Each kind's columns, by the label it has in the union.
_COLUMNS: dict[int, dict[str, ColumnElement[Any]]] = {
    PROJECT: {"id": _project.c.id, **_own("p_", _project.c, _PROJECT_FIELDS)},
    TASK: {
        "id": _task.c.id,
        **_own("t_", _task.c, (*_TASK_FIELDS, "complaint_id")),
        "t_linked_complaint_id": _complaint.c.id,
    },
    ATTEMPT: {
        "id": _attempt.c.id,
        **_own("a_", _attempt.c, _ATTEMPT_FIELDS),
        **_own("a_", _attempt.c, (f"satisfaction_{k}" for k in _SATISFACTION)),
        "agent_name": _agent.c.display_name,
    },
    CALL: {
        "id": _recent.c.id,
        **_own("c_", _recent.c, _CALL_FIELDS),
        "agent_name": _agent.c.display_name,
    },
}
_OWNER_COLUMNS: dict[str, ColumnElement[Any]] = {
    "id": _customers.c.id,
    **_own("o_", _customers.c, _OWNER_FIELDS),
    "o_phone_id": _phones.c.id,
    **_own("o_", _phones.c, _OWNER_PHONE_FIELDS),
}


def _labels(kinds: Iterable[dict[str, ColumnElement[Any]]]) -> dict[str, Any]:
    """Every label of a union with its column's type (the first kind that has it)."""
    types: dict[str, Any] = {}
    for columns in kinds:
        for label, column in columns.items():
            types.setdefault(label, column.type)
    return types


_TYPES = _labels(_COLUMNS.values())
_TYPES_WITH_OWNERS = _labels([*_COLUMNS.values(), _OWNER_COLUMNS])


def _branch(
    kind: int,
    query: Select[Any],
    own: dict[str, ColumnElement[Any]],
    labels: dict[str, Any],
) -> Select[Any]:
    """One kind's rows, its columns in place and every other kind's as a typed NULL (the
    types make PostgreSQL's UNION agree and give every value its ORM type on the way back)."""
    columns = [literal_column(str(kind)).label("kind")] + [
        (own[label] if label in own else cast(null(), kind_type)).label(label)
        for label, kind_type in labels.items()
    ]
    return query.with_only_columns(*columns, maintain_column_froms=False)


def _card_branches(
    customer: ColumnElement[int], recent: Subquery, labels: dict[str, Any]
) -> list[Select[Any]]:
    """The card's four kinds of rows for one customer (a parameter, or the caller's)."""
    live_task = _task.c.status != TaskStatus.CANCELLED.value
    owned = _project.c.customer_id == customer
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
    calls = select(recent).select_from(recent.outerjoin(_agent, _agent.c.id == recent.c.agent_id))
    call_columns = {
        "id": recent.c.id,
        **_own("c_", recent.c, _CALL_FIELDS),
        "agent_name": _agent.c.display_name,
    }
    return [
        _branch(PROJECT, projects, _COLUMNS[PROJECT], labels),
        _branch(TASK, tasks, _COLUMNS[TASK], labels),
        _branch(ATTEMPT, attempts, _COLUMNS[ATTEMPT], labels),
        _branch(CALL, calls, call_columns, labels),
    ]


def _caller_query() -> CompoundSelect[Any]:
    """Who has the number `:number` (each owner once per phone of theirs) and the first
    owner's card: a screen pop's whole read in one statement."""
    owners = (
        select(_customers)
        .select_from(_matched)
        .join(_customers, _customers.c.id == _matched.c.customer_id)
        .join(_phones, _phones.c.customer_id == _customers.c.id)
        .where(_matched.c.number == _number)
    )
    return union_all(
        _branch(OWNER, owners, _OWNER_COLUMNS, _TYPES_WITH_OWNERS),
        *_card_branches(_first_owner, _recent_of_first_owner, _TYPES_WITH_OWNERS),
    )


_CARD = union_all(*_card_branches(_customer, _recent, _TYPES))
_CALLER = _caller_query()


class OwnerRow(NamedTuple):
    """A phone owner and one of their phones, as crm.customers.service reads owners."""

    id: int
    name: str
    grade: Any
    address: str | None
    notes: str | None
    do_not_call: bool
    do_not_call_reason: str | None
    phone_id: int
    number: str
    extension: str | None
    kind: Any


async def card_records(session: AsyncSession, *, customer_id: int) -> CardRecords:
    """Everything the card shows beyond the customer's own fields, in one statement."""
    return _records(await session.execute(_CARD, {"customer_id": customer_id}))


async def caller_records(
    session: AsyncSession, *, number: str
) -> tuple[list[OwnerRow], CardRecords]:
    """The owners of a number (by customer, then phone) and the first owner's card records,
    in one statement (one round trip: a screen pop's read)."""
    owners: list[OwnerRow] = []
    rest: list[Any] = []
    for row in await session.execute(_CALLER, {"number": number}):
        if row.kind == OWNER:
            owners.append(
                OwnerRow(
                    row.id,
                    **_values(row, "o_", _OWNER_FIELDS),
                    phone_id=row.o_phone_id,
                    **_values(row, "o_", _OWNER_PHONE_FIELDS),
                )
            )
        else:
            rest.append(row)
    owners.sort(key=lambda o: (o.id, o.phone_id))
    return owners, _records(rest)


def _records(rows: Iterable[Any]) -> CardRecords:
    projects: list[ProjectOnCard] = []
    tasks: list[TaskOnCard] = []
    attempts: list[AttemptOnCard] = []
    calls: list[CallOnCard] = []
    for row in rows:
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
    return ProjectOnCard(id=row.id, **_values(row, "p_", _PROJECT_FIELDS))


def _task_row(row: Any) -> TaskOnCard:
    complaint_id = None
    if row.t_stage is Stage.COMPLAINT:  # the complaint's link first, the old field's after
        complaint_id = (
            row.t_linked_complaint_id
            if row.t_linked_complaint_id is not None
            else row.t_complaint_id
        )
    return TaskOnCard(id=row.id, complaint_id=complaint_id, **_values(row, "t_", _TASK_FIELDS))


def _attempt_row(row: Any) -> AttemptOnCard:
    return AttemptOnCard(
        id=row.id,
        agent_name=row.agent_name,
        satisfaction=_values(row, "a_satisfaction_", _SATISFACTION),
        **_values(row, "a_", _ATTEMPT_FIELDS),
    )


def _call_row(row: Any) -> CallOnCard:
    return CallOnCard(id=row.id, agent_name=row.agent_name, **_values(row, "c_", _CALL_FIELDS))


__all__: Sequence[str] = ("CardRecords", "OwnerRow", "caller_records", "card_records")
