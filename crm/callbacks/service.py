"""Callback tasks and attempts: keeping tasks in line with the schedule, logging every attempt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.callbacks.models import (
    CONSTRUCTION_STAGES,
    SATISFACTION_AREAS,
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.callbacks.schedule import (
    Reconciliation,
    ScheduleRules,
    StageCallback,
    StageDates,
    missing_effective_stages,
    plan_callbacks,
    reconcile,
)
from crm.calls.models import Call
from crm.customers.models import Customer, Grade
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.projects.models import Project, ProjectStatus
from crm.references import referenced


async def get_for_project(session: AsyncSession, project_id: int) -> list[CallbackTask]:
    """A project's callback tasks in schedule order, with their attempts."""
    query = (
        select(CallbackTask)
        .where(CallbackTask.project_id == project_id)
        .options(selectinload(CallbackTask.attempts))
        .order_by(CallbackTask.due_date, CallbackTask.month, CallbackTask.id)
    )
    return list(await session.scalars(query))


async def get_or_raise(
    session: AsyncSession, task_id: int, *, field: str | None = None
) -> CallbackTask:
    """The task, or NotFound (naming `field` when a request's field gave the id)."""
    task = await session.get(CallbackTask, task_id)
    if task is None:
        raise NotFound(f"no callback task {task_id}", code="task_not_found", field=field)
    return task


async def get_with_attempts(session: AsyncSession, *, task_id: int) -> CallbackTask:
    """The task read afresh with all its attempts (after this session logged one)."""
    task = await session.scalar(
        select(CallbackTask)
        .where(CallbackTask.id == task_id)
        .options(selectinload(CallbackTask.attempts))
        .execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound(f"no callback task {task_id}", code="task_not_found")
    return task


async def get_attempt_or_raise(
    session: AsyncSession, *, attempt_id: int, task_id: int | None = None
) -> CallbackAttempt:
    """The attempt (of this task, when one is named), or NotFound naming `attempt_id`."""
    attempt = await session.get(CallbackAttempt, attempt_id)
    if attempt is None or (task_id is not None and attempt.task_id != task_id):
        raise NotFound(
            f"no attempt {attempt_id} for this callback",
            code="attempt_not_found",
            field="attempt_id",
        )
    return attempt


async def sync_project(
    session: AsyncSession, project: Project, *, rules: ScheduleRules, grade: Grade
) -> Reconciliation:
    """Create, move, reopen or cancel the project's tasks so they follow its stage dates."""
    existing = list(
        await session.scalars(  # a complaint's call back is not the schedule's
            select(CallbackTask).where(
                CallbackTask.project_id == project.id, CallbackTask.stage != Stage.COMPLAINT
            )
        )
    )
    plan = reconcile(
        existing,
        plan_callbacks(StageDates.of_project(project), rules),
        project_cancelled=project.status is ProjectStatus.CANCELLED,
    )
    by_id = {t.id: t for t in existing}
    for planned in plan.create:
        session.add(
            CallbackTask(
                project_id=project.id,
                stage=planned.stage,
                month=planned.month,
                due_date=planned.due_date,
                latest_date=planned.latest_date,
                priority=grade.rank,
                status=TaskStatus.PENDING,
            )
        )
    for task_id, planned in plan.move + plan.reopen:
        task = by_id[task_id]
        task.due_date, task.latest_date = planned.due_date, planned.latest_date
        task.status = TaskStatus.PENDING if task.status is TaskStatus.CANCELLED else task.status
    for task_id in plan.cancel:
        by_id[task_id].status = TaskStatus.CANCELLED
    for task in existing:
        task.priority = grade.rank
    await session.flush()
    return plan


async def plan_new_projects(
    session: AsyncSession, new: Sequence[tuple[Project, Grade]], *, rules: ScheduleRules
) -> None:
    """Stage callbacks of projects just inserted (ids known, no task yet): what `sync_project`
    creates for a new project, without looking for tasks it cannot have, written as one bulk
    insert (no task object is needed afterwards: the import only counts them)."""
    rows = [
        {
            "project_id": project.id,
            "stage": planned.stage,
            "month": planned.month,
            "due_date": planned.due_date,
            "latest_date": planned.latest_date,
            "priority": grade.rank,
            "status": TaskStatus.PENDING,
        }
        for project, grade in new
        for planned in reconcile(
            [],
            plan_callbacks(StageDates.of_project(project), rules),
            project_cancelled=project.status is ProjectStatus.CANCELLED,
        ).create
    ]
    if rows:
        await session.execute(insert(CallbackTask), rows)


async def reprioritise_customer(session: AsyncSession, customer: Customer) -> None:
    """A customer's grade changed: their open tasks take the new priority."""
    tasks = await session.scalars(
        select(CallbackTask).join(Project).where(Project.customer_id == customer.id)
    )
    for task in tasks:
        task.priority = customer.grade.rank
    await session.flush()


async def start_attempt(
    session: AsyncSession,
    *,
    task: CallbackTask,
    made_by: MadeBy,
    at: datetime,
    agent_id: int | None = None,
    campaign_id: int | None = None,
    dialed_number: str | None = None,
) -> CallbackAttempt:
    """Write the attempt before anything is dialed, so a crash cannot lose it."""
    if task.status is TaskStatus.CANCELLED:
        raise Conflict("this callback was cancelled", code="task_cancelled")
    if made_by is MadeBy.AGENT and agent_id is None:
        raise ValidationError(
            "an agent's attempt names the agent", code="required", field="agent_id"
        )
    attempt = CallbackAttempt(
        task_id=task.id,
        made_by=made_by,
        agent_id=agent_id,
        campaign_id=campaign_id,
        started_at=at,
        dialed_number=dialed_number,
    )
    session.add(attempt)
    task.attempt_count += 1
    if task.status is TaskStatus.PENDING:
        task.status = TaskStatus.IN_PROGRESS
    await session.flush()
    return attempt


def _check_result(
    outcome: Outcome,
    satisfaction: Mapping[str, Satisfaction | None],
    call_back_at: datetime | None,
    at: datetime,
) -> list[Problem]:
    problems = [
        Problem(f"satisfaction.{area}", "unknown_area", f"unknown area {area!r}")
        for area in satisfaction
        if area not in SATISFACTION_AREAS
    ]
    answered = {a: s for a, s in satisfaction.items() if s is not None}
    if outcome is Outcome.EFFECTIVE and not answered:
        problems.append(
            Problem(
                "satisfaction",
                "satisfaction_required",
                "an effective callback records the customer's satisfaction",
            )
        )
    if outcome is not Outcome.EFFECTIVE and answered:
        problems.append(
            Problem(
                "satisfaction",
                "satisfaction_not_allowed",
                "satisfaction is only recorded when the customer was reached",
            )
        )
    if outcome is Outcome.CALL_LATER:
        if call_back_at is None:
            problems.append(
                Problem("call_back_at", "required", "say when the customer wants to be called")
            )
        elif call_back_at <= at:
            problems.append(
                Problem(
                    "call_back_at", "in_the_past", "the time to call back must be in the future"
                )
            )
    return problems


async def complete_attempt(
    session: AsyncSession,
    *,
    attempt: CallbackAttempt,
    outcome: Outcome,
    at: datetime,
    satisfaction: Mapping[str, Satisfaction | None] | None = None,
    notes: str = "",
    call_back_at: datetime | None = None,
) -> CallbackAttempt:
    """Record how an attempt went and move its task on.

    Effective and satisfied closes the stage's callback; effective with an unsatisfied area
    counts as effective but leaves the task open for the follow-up callback; anything else
    leaves it pending for another try.
    """
    satisfaction = dict(satisfaction or {})
    problems = _check_result(outcome, satisfaction, call_back_at, at)
    if attempt.outcome is not None:
        problems.append(
            Problem("outcome", "already_recorded", "this attempt's outcome is already recorded")
        )
    if problems:
        raise ValidationError.of(problems)
    task = await session.get(CallbackTask, attempt.task_id)
    assert task is not None
    attempt.outcome = outcome
    attempt.notes = notes.strip()
    attempt.completed_at = at
    attempt.call_back_at = call_back_at
    for area in SATISFACTION_AREAS:
        setattr(attempt, f"satisfaction_{area}", satisfaction.get(area))
    if task.status is TaskStatus.CANCELLED:
        await session.flush()
        return attempt
    if outcome is Outcome.EFFECTIVE:
        task.effective = True
        task.effective_at = task.effective_at or at
        unsatisfied = any(s is Satisfaction.UNSATISFIED for s in satisfaction.values())
        task.status = TaskStatus.PENDING if unsatisfied else TaskStatus.DONE
        task.not_before = None
    else:
        task.status = TaskStatus.PENDING if task.status is not TaskStatus.DONE else task.status
        task.not_before = call_back_at
    await session.flush()
    return attempt


async def attach_call(session: AsyncSession, attempt: CallbackAttempt, call_id: int | None) -> None:
    """The call the attempt was made on (one the dialer already linked stays); an unknown
    call is a 404 naming `call_id`."""
    if call_id is not None and attempt.call_id is None:
        await referenced(session, Call, call_id, field="call_id", what="call")
        attempt.call_id = call_id


async def log_attempt(
    session: AsyncSession,
    *,
    task: CallbackTask,
    made_by: MadeBy,
    outcome: Outcome,
    at: datetime,
    agent_id: int | None = None,
    campaign_id: int | None = None,
    satisfaction: Mapping[str, Satisfaction | None] | None = None,
    notes: str = "",
    call_back_at: datetime | None = None,
    call_id: int | None = None,
) -> CallbackAttempt:
    """An attempt made and finished in one go (an agent logging a call they made)."""
    problems = _check_result(outcome, dict(satisfaction or {}), call_back_at, at)
    if problems:
        raise ValidationError.of(problems)
    attempt = await start_attempt(
        session, task=task, made_by=made_by, at=at, agent_id=agent_id, campaign_id=campaign_id
    )
    await attach_call(session, attempt, call_id)
    return await complete_attempt(
        session,
        attempt=attempt,
        outcome=outcome,
        at=at,
        satisfaction=satisfaction,
        notes=notes,
        call_back_at=call_back_at,
    )


async def non_compliant_projects(
    session: AsyncSession, *, today: date
) -> list[tuple[Project, list[Stage]]]:
    """Projects missing an effective callback for a construction stage that is past due."""
    rows = await session.execute(
        select(Project, CallbackTask.stage, CallbackTask.latest_date, CallbackTask.effective)
        .outerjoin(
            CallbackTask,
            (CallbackTask.project_id == Project.id) & CallbackTask.stage.in_(CONSTRUCTION_STAGES),
        )
        .where(Project.status != ProjectStatus.CANCELLED)
        .order_by(Project.id)
    )
    progress: dict[int, tuple[Project, list[StageCallback]]] = {}
    for project, stage, latest, effective in rows:
        entry = progress.setdefault(project.id, (project, []))
        if stage is not None:
            entry[1].append(StageCallback(stage, latest, bool(effective)))
    result = []
    for project, items in progress.values():
        missing = missing_effective_stages(project.status, items, today)
        if missing:
            result.append((project, missing))
    return result
