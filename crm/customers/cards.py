"""The customer card: everything an agent needs on screen about a customer, in one read.

The same card is sent in a screen pop and shown on the customer page, so both always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.callbacks.models import OPEN_STATUSES, CallbackAttempt, CallbackTask, TaskStatus
from crm.complaints import service as complaints
from crm.customers import card_rows
from crm.customers.models import Customer, Grade
from crm.one_of import one_of
from crm.phones import PhoneKind, PhoneNumberError, normalize_phone
from crm.projects.models import Project
from crm.projects.service import current_stage
from crm.users import service as users


class PhoneOnFile(Protocol):
    """A customer's phone as the card reads it: an ORM `Phone` or a lookup's `OwnerPhone`."""

    @property
    def number(self) -> str: ...
    @property
    def extension(self) -> str | None: ...
    @property
    def kind(self) -> PhoneKind: ...


class CustomerOnFile(Protocol):
    """A customer as the card reads it: an ORM `Customer` with its phones loaded, or a caller
    lookup's `PhoneOwner` (the screen pop builds its card from the lookup's rows)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def grade(self) -> Grade: ...
    @property
    def address(self) -> str: ...
    @property
    def notes(self) -> str: ...
    @property
    def do_not_call(self) -> bool: ...
    @property
    def do_not_call_reason(self) -> str | None: ...
    @property
    def phones(self) -> Sequence[PhoneOnFile]: ...


class PhoneCard(BaseModel):
    number: str
    display: str
    extension: str | None
    kind: PhoneKind


class AttemptCard(BaseModel):
    id: int
    started_at: datetime
    made_by: str
    agent_id: int | None
    agent_name: str | None
    campaign_id: int | None
    outcome: str | None
    satisfaction: dict[str, str | None]
    notes: str
    call_id: int | None
    call_back_at: datetime | None


class TaskCard(BaseModel):
    id: int
    project_id: int
    stage: str
    month: int  # 1..N for post_completion; 0 otherwise
    complaint_id: int | None  # stage complaint: the complaint it calls the customer back about
    due_date: date
    latest_date: date
    status: str
    effective: bool
    attempt_count: int
    overdue: bool
    attempts: list[AttemptCard]


class ProjectCard(BaseModel):
    id: int
    contract_number: str
    address: str
    designer: str
    project_manager: str
    foreman: str
    crew: str
    status: str
    contract_date: date | None
    start_date: date | None
    concealed_works_date: date | None
    midterm_date: date | None
    completion_date: date | None
    current_stage: str | None
    callbacks: list[TaskCard]


class CallCard(BaseModel):
    id: int
    started_at: datetime
    direction: str
    outcome: str | None
    queue: str | None
    agent_name: str | None
    talk_seconds: float | None


class CustomerSummary(BaseModel):
    id: int
    name: str
    grade: str
    address: str
    do_not_call: bool
    phones: list[PhoneCard]


class CustomerCard(CustomerSummary):
    notes: str
    do_not_call_reason: str | None
    projects: list[ProjectCard]
    recent_calls: list[CallCard]


def phone_card(number: str, extension: str | None, kind: PhoneKind) -> PhoneCard:
    try:
        display = normalize_phone(number).display()
    except PhoneNumberError:
        display = number
    if extension:
        display = f"{display} 转{extension}"
    return PhoneCard(number=number, display=display, extension=extension, kind=kind)


def summary(customer: CustomerOnFile) -> CustomerSummary:
    return CustomerSummary(
        id=customer.id,
        name=customer.name,
        grade=customer.grade.value,
        address=customer.address,
        do_not_call=customer.do_not_call,
        phones=[phone_card(p.number, p.extension, p.kind) for p in customer.phones],
    )


def _attempt(attempt: CallbackAttempt, names: dict[int, str]) -> AttemptCard:
    return AttemptCard(
        id=attempt.id,
        started_at=attempt.started_at,
        made_by=attempt.made_by.value,
        agent_id=attempt.agent_id,
        agent_name=names.get(attempt.agent_id or 0),
        campaign_id=attempt.campaign_id,
        outcome=attempt.outcome.value if attempt.outcome else None,
        satisfaction={k: v.value if v else None for k, v in attempt.satisfaction().items()},
        notes=attempt.notes,
        call_id=attempt.call_id,
        call_back_at=attempt.call_back_at,
    )


def task_card(
    task: CallbackTask, names: dict[int, str], today: date, *, complaint_id: int | None = None
) -> TaskCard:
    return TaskCard(
        id=task.id,
        project_id=task.project_id,
        stage=task.stage.value,
        month=task.month,
        complaint_id=complaint_id,
        due_date=task.due_date,
        latest_date=task.latest_date,
        status=task.status.value,
        effective=task.effective,
        attempt_count=task.attempt_count,
        overdue=task.is_open and not task.effective and task.latest_date < today,
        attempts=[_attempt(a, names) for a in task.attempts],
    )


async def task_cards(
    session: AsyncSession, tasks: Sequence[CallbackTask], *, today: date
) -> list[TaskCard]:
    """Cards for tasks whose attempts are loaded, with the agents' names and, on a complaint's
    call back, the complaint's id."""
    names = await users.display_names(session, ids={a.agent_id for t in tasks for a in t.attempts})
    about = await complaints.ids_by_callback_task(session, tasks=tasks)
    return [task_card(task, names, today, complaint_id=about.get(task.id)) for task in tasks]


async def project_cards(
    session: AsyncSession, projects: Sequence[Project], *, today: date
) -> list[ProjectCard]:
    ids = [p.id for p in projects]
    tasks = (
        list(
            await session.scalars(
                select(CallbackTask)
                .where(
                    one_of(CallbackTask.project_id, ids),
                    CallbackTask.status != TaskStatus.CANCELLED,
                )
                .options(selectinload(CallbackTask.attempts))
                .order_by(CallbackTask.due_date, CallbackTask.month, CallbackTask.id)
            )
        )
        if ids
        else []
    )
    by_project: dict[int, list[TaskCard]] = {}
    for card in await task_cards(session, tasks, today=today):
        by_project.setdefault(card.project_id, []).append(card)
    return [_project_card(p, by_project.get(p.id, []), today) for p in projects]


def _task_card(task: card_rows.TaskOnCard, today: date) -> TaskCard:
    return TaskCard(
        id=task.id,
        project_id=task.project_id,
        stage=task.stage.value,
        month=task.month,
        complaint_id=task.complaint_id,
        due_date=task.due_date,
        latest_date=task.latest_date,
        status=task.status.value,
        effective=task.effective,
        attempt_count=task.attempt_count,
        overdue=task.status in OPEN_STATUSES and not task.effective and task.latest_date < today,
        attempts=[
            AttemptCard(
                id=a.id,
                started_at=a.started_at,
                made_by=a.made_by.value,
                agent_id=a.agent_id,
                agent_name=a.agent_name,
                campaign_id=a.campaign_id,
                outcome=a.outcome.value if a.outcome else None,
                satisfaction={k: v.value if v else None for k, v in a.satisfaction.items()},
                notes=a.notes,
                call_id=a.call_id,
                call_back_at=a.call_back_at,
            )
            for a in task.attempts
        ],
    )


def _project_card(
    project: Project | card_rows.ProjectOnCard, callbacks: list[TaskCard], today: date
) -> ProjectCard:
    """A project on a card, from its row (project_cards) or the card's one round trip."""
    return ProjectCard(
        id=project.id,
        contract_number=project.contract_number,
        address=project.address,
        designer=project.designer,
        project_manager=project.project_manager,
        foreman=project.foreman,
        crew=project.crew,
        status=project.status.value,
        contract_date=project.contract_date,
        start_date=project.start_date,
        concealed_works_date=project.concealed_works_date,
        midterm_date=project.midterm_date,
        completion_date=project.completion_date,
        current_stage=(stage.value if (stage := current_stage(project, today)) else None),
        callbacks=callbacks,
    )


async def customer_card(
    session: AsyncSession, customer_id: int, *, today: date
) -> CustomerCard | None:
    """The full card, or None when there is no such customer."""
    customer = await session.scalar(
        select(Customer).where(Customer.id == customer_id).options(selectinload(Customer.phones))
    )
    if customer is None:
        return None
    return await card_of(session, customer, today=today)


async def card_of(session: AsyncSession, customer: CustomerOnFile, *, today: date) -> CustomerCard:
    """The full card of a customer already loaded with their phones (a caller lookup's
    result): everything else in one round trip (crm/customers/card_rows.py), so a screen pop
    costs the lookup and this, whatever the customer has on file."""
    records = await card_rows.card_records(session, customer_id=customer.id)
    return card_from(customer, records, today=today)


def card_from(
    customer: CustomerOnFile, records: card_rows.CardRecords, *, today: date
) -> CustomerCard:
    """The card of a customer, from their card records."""
    by_project: dict[int, list[TaskCard]] = {}
    for task in records.tasks:
        by_project.setdefault(task.project_id, []).append(_task_card(task, today))
    return CustomerCard(
        **summary(customer).model_dump(),
        notes=customer.notes,
        do_not_call_reason=customer.do_not_call_reason,
        projects=[_project_card(p, by_project.get(p.id, []), today) for p in records.projects],
        recent_calls=[
            CallCard(
                id=c.id,
                started_at=c.started_at,
                direction=c.direction.value,
                outcome=c.outcome.value if c.outcome else None,
                queue=c.queue,
                agent_name=c.agent_name,
                talk_seconds=c.talk_seconds,
            )
            for c in records.calls
        ],
    )
