"""Callback figures: the attempts of a period by stage, outcome, satisfaction and agent; the
unsatisfied customers and what was done for them; callbacks overdue and projects missing
their stage callbacks, as they stood at a given instant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
from crm.callbacks.schedule import StageCallback, StageDates, missing_effective_stages
from crm.complaints.models import Complaint, ComplaintStatus
from crm.customers.models import Customer
from crm.one_of import one_of
from crm.projects.models import Project, ProjectStatus
from crm.projects.service import derive_status
from crm.reports.tallies import SatisfactionCount, overall, rate
from crm.users.models import User

STAGES = tuple(Stage)
OUTCOMES = tuple(Outcome)
# Whose work each satisfaction area rates, by the project's column.
AREA_PEOPLE = {"crew": "crew", "supervisor": "project_manager", "designer": "designer"}


@dataclass(frozen=True, slots=True)
class AttemptFact:
    """One finished callback attempt with what the reports need about its project."""

    id: int
    task_id: int
    stage: Stage
    month: int
    started_at: datetime
    outcome: Outcome
    satisfaction: dict[str, Satisfaction | None]
    notes: str
    made_by: MadeBy
    agent_id: int | None
    agent_name: str | None
    customer_id: int
    customer_name: str
    project_id: int
    contract_number: str
    people: dict[str, str]  # area → the crew, project manager or designer it rates

    @property
    def effective(self) -> bool:
        return self.outcome is Outcome.EFFECTIVE

    @property
    def verdict(self) -> Satisfaction | None:
        return overall(self.satisfaction) if self.effective else None

    @property
    def unsatisfied_areas(self) -> list[str]:
        return [a for a, s in self.satisfaction.items() if s is Satisfaction.UNSATISFIED]


def _attempt_query() -> Select[CallbackAttempt, Stage, int, Project, str, str]:
    return (
        select(
            CallbackAttempt,
            CallbackTask.stage,
            CallbackTask.month,
            Project,
            Customer.name,
            User.display_name,
        )
        .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
        .join(Project, Project.id == CallbackTask.project_id)
        .join(Customer, Customer.id == Project.customer_id)
        .outerjoin(User, User.id == CallbackAttempt.agent_id)
        .where(CallbackAttempt.outcome.is_not(None))
        .order_by(CallbackAttempt.started_at, CallbackAttempt.id)
    )


def _fact(
    attempt: CallbackAttempt,
    stage: Stage,
    month: int,
    project: Project,
    customer_name: str,
    agent_name: str | None,
) -> AttemptFact:
    assert attempt.outcome is not None
    return AttemptFact(
        id=attempt.id,
        task_id=attempt.task_id,
        stage=stage,
        month=month,
        started_at=attempt.started_at,
        outcome=attempt.outcome,
        satisfaction=attempt.satisfaction(),
        notes=attempt.notes,
        made_by=attempt.made_by,
        agent_id=attempt.agent_id,
        agent_name=agent_name,
        customer_id=project.customer_id,
        customer_name=customer_name,
        project_id=project.id,
        contract_number=project.contract_number,
        people={area: getattr(project, column) for area, column in AREA_PEOPLE.items()},
    )


async def load_attempts(session: AsyncSession, start: datetime, end: datetime) -> list[AttemptFact]:
    """Attempts started in [start, end) whose outcome is recorded, in the order made."""
    rows = await session.execute(
        _attempt_query().where(
            CallbackAttempt.started_at >= start, CallbackAttempt.started_at < end
        )
    )
    return [_fact(*row) for row in rows]


# --- tallies (pure) ---------------------------------------------------------------------------


@dataclass(slots=True)
class StageTally:
    stage: Stage | None  # None: every stage together
    attempts: int = 0
    outcomes: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    satisfaction: SatisfactionCount = field(default_factory=SatisfactionCount)

    @property
    def effective(self) -> int:
        return self.outcomes[Outcome.EFFECTIVE]

    @property
    def effective_rate(self) -> float | None:
        """Effective callbacks ÷ attempts made: the share of calls that reached the customer
        and got the questions answered."""
        return rate(self.effective, self.attempts)

    def add(self, attempt: AttemptFact) -> None:
        self.attempts += 1
        self.outcomes[attempt.outcome] += 1
        self.satisfaction.add(attempt.verdict)


def by_stage(attempts: Iterable[AttemptFact]) -> tuple[list[StageTally], StageTally]:
    """One row per stage (every stage, even without calls) and the total."""
    rows = {stage: StageTally(stage) for stage in STAGES}
    total = StageTally(None)
    for attempt in attempts:
        rows[attempt.stage].add(attempt)
        total.add(attempt)
    return list(rows.values()), total


@dataclass(frozen=True, slots=True)
class AreaTally:
    area: str
    satisfaction: SatisfactionCount


def by_area(attempts: Iterable[AttemptFact]) -> list[AreaTally]:
    """Each satisfaction question's answers over the effective callbacks."""
    counts = {area: SatisfactionCount() for area in SATISFACTION_AREAS}
    for attempt in attempts:
        if attempt.effective:
            for area, answer in attempt.satisfaction.items():
                counts[area].add(answer)
    return [AreaTally(area, count) for area, count in counts.items()]


@dataclass(frozen=True, slots=True)
class PersonTally:
    area: str
    name: str  # the crew, project manager or designer; "" when the project names nobody
    satisfaction: SatisfactionCount


def by_person(attempts: Iterable[AttemptFact], area: str) -> list[PersonTally]:
    """Answers to one area's question grouped by whom it rates, least satisfied first."""
    counts: dict[str, SatisfactionCount] = defaultdict(SatisfactionCount)
    for attempt in attempts:
        answer = attempt.satisfaction.get(area) if attempt.effective else None
        if answer is not None:
            counts[attempt.people.get(area, "")].add(answer)
    rows = [PersonTally(area, name, count) for name, count in counts.items()]
    return sorted(
        rows, key=lambda r: (r.satisfaction.rate or 0.0, -r.satisfaction.answered, r.name)
    )


@dataclass(slots=True)
class AgentTally:
    agent_id: int | None  # None: the automatic campaigns
    name: str | None
    attempts: int = 0
    effective: int = 0
    unsatisfied: int = 0

    @property
    def effective_rate(self) -> float | None:
        return rate(self.effective, self.attempts)


def by_agent(attempts: Iterable[AttemptFact]) -> list[AgentTally]:
    """Who made the calls: agents by name, then the campaigns' calls nobody took."""
    rows: dict[int | None, AgentTally] = {}
    for attempt in attempts:
        key = attempt.agent_id  # a campaign's call an agent took counts as the agent's
        row = rows.setdefault(key, AgentTally(key, attempt.agent_name))
        row.attempts += 1
        row.effective += attempt.effective
        row.unsatisfied += attempt.verdict is Satisfaction.UNSATISFIED
    return sorted(rows.values(), key=lambda r: (r.agent_id is None, r.name or "", r.agent_id))


# --- unsatisfied customers and what was done ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComplaintAction:
    id: int
    category: str
    department: str
    status: ComplaintStatus
    received_at: datetime
    resolved_at: datetime | None
    callback_satisfied: bool | None


@dataclass(frozen=True, slots=True)
class FollowUp:
    started_at: datetime
    outcome: Outcome
    verdict: Satisfaction | None
    notes: str


@dataclass(frozen=True, slots=True)
class UnsatisfiedCase:
    attempt: AttemptFact
    complaints: list[ComplaintAction]
    follow_ups: list[FollowUp]  # later attempts at the same callback, up to the report's instant

    @property
    def settled(self) -> bool:
        """A later effective callback found the customer satisfied, or a complaint from it
        was closed."""
        return any(f.verdict is Satisfaction.SATISFIED for f in self.follow_ups) or any(
            c.status is ComplaintStatus.CLOSED for c in self.complaints
        )


async def unsatisfied_cases(
    session: AsyncSession, attempts: Sequence[AttemptFact], as_of: datetime
) -> list[UnsatisfiedCase]:
    """Every effective callback of the period with an unsatisfied answer, with the complaints
    opened from it and the follow-up callbacks made before `as_of`."""
    unhappy = [a for a in attempts if a.verdict is Satisfaction.UNSATISFIED]
    if not unhappy:
        return []
    ids = [a.id for a in unhappy]
    complaints: dict[int, list[ComplaintAction]] = defaultdict(list)
    for complaint in await session.scalars(
        select(Complaint)
        .where(one_of(Complaint.attempt_id, ids), Complaint.received_at < as_of)
        .order_by(Complaint.received_at, Complaint.id)
    ):
        assert complaint.attempt_id is not None
        complaints[complaint.attempt_id].append(
            ComplaintAction(
                complaint.id,
                complaint.category,
                complaint.department,
                complaint.status,
                complaint.received_at,
                complaint.resolved_at,
                complaint.callback_satisfied,
            )
        )
    later: dict[int, list[CallbackAttempt]] = defaultdict(list)
    for attempt in await session.scalars(
        select(CallbackAttempt)
        .where(
            one_of(CallbackAttempt.task_id, {a.task_id for a in unhappy}),
            CallbackAttempt.outcome.is_not(None),
            CallbackAttempt.started_at < as_of,
        )
        .order_by(CallbackAttempt.started_at, CallbackAttempt.id)
    ):
        later[attempt.task_id].append(attempt)
    cases = []
    for fact in unhappy:
        follow_ups = [
            FollowUp(
                a.started_at,
                a.outcome,
                overall(a.satisfaction()) if a.outcome is Outcome.EFFECTIVE else None,
                a.notes,
            )
            for a in later[fact.task_id]
            if a.outcome is not None and (a.started_at, a.id) > (fact.started_at, fact.id)
        ]
        cases.append(UnsatisfiedCase(fact, complaints[fact.id], follow_ups))
    return cases


# --- overdue callbacks and non-compliant projects ---------------------------------------------


@dataclass(frozen=True, slots=True)
class OverdueCallback:
    task_id: int
    stage: Stage
    month: int
    due_date: date
    latest_date: date
    days_late: int
    attempts: int  # made before the report's instant
    last_outcome: Outcome | None
    customer_name: str
    project_id: int
    contract_number: str
    do_not_call: bool  # the customer asked not to be called: listed last, not chased


def _not_effective_by(as_of: datetime) -> ColumnElement[bool]:
    return or_(CallbackTask.effective_at.is_(None), CallbackTask.effective_at >= as_of)


async def overdue_callbacks(
    session: AsyncSession, *, as_of: datetime, today: date
) -> list[OverdueCallback]:
    """Callbacks whose window had closed by `today` (the local date of `as_of`) without an
    effective call before `as_of`, most overdue first; customers who asked not to be called
    last."""
    rows = list(
        await session.execute(
            select(CallbackTask, Project.contract_number, Customer.name, Customer.do_not_call)
            .join(Project, Project.id == CallbackTask.project_id)
            .join(Customer, Customer.id == Project.customer_id)
            .where(
                CallbackTask.status != TaskStatus.CANCELLED,
                CallbackTask.latest_date < today,
                _not_effective_by(as_of),
            )
            .order_by(Customer.do_not_call, CallbackTask.latest_date, CallbackTask.id)
        )
    )
    tries: dict[int, list[tuple[datetime, Outcome | None]]] = defaultdict(list)
    if rows:
        for task_id, started_at, outcome in await session.execute(
            select(CallbackAttempt.task_id, CallbackAttempt.started_at, CallbackAttempt.outcome)
            .where(
                one_of(CallbackAttempt.task_id, [t.id for t, *_ in rows]),
                CallbackAttempt.started_at < as_of,
            )
            .order_by(CallbackAttempt.started_at, CallbackAttempt.id)
        ):
            tries[task_id].append((started_at, outcome))
    return [
        OverdueCallback(
            task_id=task.id,
            stage=task.stage,
            month=task.month,
            due_date=task.due_date,
            latest_date=task.latest_date,
            days_late=(today - task.latest_date).days,
            attempts=len(tries[task.id]),
            last_outcome=tries[task.id][-1][1] if tries[task.id] else None,
            customer_name=customer,
            project_id=task.project_id,
            contract_number=contract,
            do_not_call=do_not_call,
        )
        for task, contract, customer, do_not_call in rows
    ]


@dataclass(frozen=True, slots=True)
class NonCompliantProject:
    project_id: int
    contract_number: str
    customer_name: str
    status: ProjectStatus
    missing: list[Stage]
    do_not_call: bool


async def non_compliant_projects(
    session: AsyncSession, *, as_of: datetime, today: date
) -> list[NonCompliantProject]:
    """Projects lacking an effective callback for a construction stage whose window had passed
    by `today` (or, once completed, at all): the manual's "at least 4 effective callbacks"."""
    task = aliased(CallbackTask)
    rows = await session.execute(
        select(
            Project,
            Customer.name,
            Customer.do_not_call,
            task.stage,
            task.latest_date,
            task.effective_at,
        )
        .join(Customer, Customer.id == Project.customer_id)
        .outerjoin(
            task,
            and_(
                task.project_id == Project.id,
                task.stage.in_(CONSTRUCTION_STAGES),
                task.status != TaskStatus.CANCELLED,
            ),
        )
        .where(Project.status != ProjectStatus.CANCELLED)
        .order_by(Customer.do_not_call, Project.id)
    )
    projects: dict[int, tuple[Project, str, bool, list[StageCallback]]] = {}
    for project, customer, do_not_call, stage, latest, effective_at in rows:
        entry = projects.setdefault(project.id, (project, customer, do_not_call, []))
        if stage is not None:
            effective = effective_at is not None and effective_at < as_of
            entry[3].append(StageCallback(stage, latest, effective))
    result = []
    for project, customer, do_not_call, progress in projects.values():
        status = derive_status(StageDates.of_project(project), today)
        missing = missing_effective_stages(status, progress, today)
        if missing:
            result.append(
                NonCompliantProject(
                    project.id, project.contract_number, customer, status, missing, do_not_call
                )
            )
    return result
