"""Projects: validated creation and edits; every date change re-plans the stage callbacks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks import service as callbacks
from crm.callbacks.models import CONSTRUCTION_STAGES, Stage
from crm.callbacks.schedule import ScheduleRules, StageDates, check_stage_dates
from crm.customers.models import Customer, Grade
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.projects.models import Project, ProjectStatus

TEXT_FIELDS = ("address", "designer", "project_manager", "foreman", "crew")
DATE_FIELDS = (
    "contract_date",
    "start_date",
    "concealed_works_date",
    "midterm_date",
    "completion_date",
)
EDITABLE = frozenset((*TEXT_FIELDS, *DATE_FIELDS, "contract_number", "status"))
CHUNK = 500  # contract numbers a query, well under every backend's bound-parameter limit


def current_stage(project: object, today: date) -> Stage | None:
    """The construction stage the works have reached today (None before the start), of a
    Project or any record with its stage dates."""
    reached = None
    dates = StageDates.of_project(project)
    for stage in CONSTRUCTION_STAGES:
        day = dates.of(stage)
        if day is not None and day <= today:
            reached = stage
    return reached


def derive_status(dates: StageDates, today: date) -> ProjectStatus:
    """What a blank status means: completed once the completion date has passed, and so on."""
    if dates.completion is not None and dates.completion <= today:
        return ProjectStatus.COMPLETED
    started = (dates.start, dates.concealed_works, dates.midterm, dates.completion)
    if any(day is not None and day <= today for day in started):
        return ProjectStatus.IN_PROGRESS
    return ProjectStatus.SIGNED


async def get(session: AsyncSession, project_id: int) -> Project | None:
    """The project, or None."""
    return await session.get(Project, project_id)


async def get_or_raise(session: AsyncSession, project_id: int) -> Project:
    """The project, or NotFound."""
    project = await get(session, project_id)
    if project is None:
        raise NotFound(f"no project {project_id}", code="project_not_found")
    return project


async def get_by_contract(session: AsyncSession, contract_number: str) -> Project | None:
    """The project with this contract number, or None."""
    return await session.scalar(select(Project).where(Project.contract_number == contract_number))


async def get_for_customer(session: AsyncSession, customer_id: int) -> list[Project]:
    """A customer's projects, newest contract first."""
    query = (
        select(Project)
        .where(Project.customer_id == customer_id)
        .order_by(Project.contract_date.desc().nulls_last(), Project.id.desc())
    )
    return list(await session.scalars(query))


def _validate(values: dict[str, Any]) -> None:
    problems: list[Problem] = []
    number = (values.get("contract_number") or "").strip()
    if not number:
        problems.append(Problem("contract_number", "required", "the contract number is required"))
    elif len(number) > 64:
        problems.append(Problem("contract_number", "too_long", "at most 64 characters"))
    for name in DATE_FIELDS:
        if values.get(name) is not None and not isinstance(values[name], date):
            problems.append(Problem(name, "invalid_date", f"{name} must be a date"))
    if not problems:
        problems += check_stage_dates(StageDates.of_project(values), values.get("status"))
    if problems:
        raise ValidationError.of(problems)


async def _ensure_unique_contract(session: AsyncSession, number: str, own_id: int | None) -> None:
    other = await get_by_contract(session, number)
    if other is not None and other.id != own_id:
        raise _taken(number)


class ContractTaken(Conflict):
    """A contract number another project has; `contract_number` says which."""

    def __init__(self, number: str) -> None:
        super().__init__(
            f"contract {number} already belongs to another project",
            code="contract_number_taken",
            field="contract_number",
        )
        self.contract_number = number


def _taken(number: str) -> ContractTaken:
    return ContractTaken(number)


async def create(
    session: AsyncSession,
    *,
    customer: Customer,
    contract_number: str,
    rules: ScheduleRules,
    status: ProjectStatus = ProjectStatus.SIGNED,
    **fields: Any,
) -> Project:
    """A new project for a customer, with its stage callbacks planned."""
    project = new_project(
        customer=customer, contract_number=contract_number, status=status, **fields
    )
    await _ensure_unique_contract(session, project.contract_number, None)
    session.add(project)
    await session.flush()
    await callbacks.sync_project(session, project, rules=rules, grade=customer.grade)
    return project


def new_project(
    *,
    customer: Customer,
    contract_number: str,
    status: ProjectStatus = ProjectStatus.SIGNED,
    **fields: Any,
) -> Project:
    """`create`'s checks and row, not yet added (see `add_projects`)."""
    unknown = set(fields) - EDITABLE
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    values: dict[str, Any] = {name: fields.get(name) for name in DATE_FIELDS}
    values.update({name: (fields.get(name) or "").strip() for name in TEXT_FIELDS})
    values.update(contract_number=contract_number.strip(), status=ProjectStatus(status))
    _validate(values)
    return Project(customer_id=customer.id, **values)


async def add_projects(
    session: AsyncSession, new: Sequence[tuple[Project, Grade]], *, rules: ScheduleRules
) -> None:
    """Projects made by `new_project` (each with its customer's grade), written together with
    their stage callbacks: a batched uniqueness check, one insert of the projects and one of
    their tasks, instead of four round trips a project. Conflict names the first contract
    number already taken (the unique index backs this against a concurrent writer)."""
    numbers = [project.contract_number for project, _ in new]
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        taken = await session.scalar(
            select(Project.contract_number).where(one_of(Project.contract_number, chunk)).limit(1)
        )
        if taken is not None:
            raise _taken(taken)
    session.add_all([project for project, _ in new])
    await session.flush()
    await callbacks.plan_new_projects(session, new, rules=rules)


async def update(
    session: AsyncSession, project: Project, *, rules: ScheduleRules, **changes: Any
) -> Project:
    """Edit a project; moved dates move its open callbacks, never its history."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    values = {name: getattr(project, name) for name in EDITABLE}
    values.update(changes)
    for name in TEXT_FIELDS:
        values[name] = (values[name] or "").strip()
    values["contract_number"] = (values["contract_number"] or "").strip()
    values["status"] = ProjectStatus(values["status"])
    _validate(values)
    await _ensure_unique_contract(session, values["contract_number"], project.id)
    for name, value in values.items():
        setattr(project, name, value)
    await session.flush()
    customer = await session.get(Customer, project.customer_id)
    assert customer is not None
    await callbacks.sync_project(session, project, rules=rules, grade=customer.grade)
    return project


async def cancel(session: AsyncSession, project: Project, *, rules: ScheduleRules) -> Project:
    """Cancel the project and its open callbacks."""
    return await update(session, project, rules=rules, status=ProjectStatus.CANCELLED)
