"""Campaigns: definition and life cycle, which due callbacks to dial next, claiming a task so
it is dialed once, and what an attempt's outcome means for the next try."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Row, Select, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents.models import AgentState, AgentStatus
from crm.callbacks import service as callbacks
from crm.callbacks.models import (
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.calls.models import Call
from crm.campaigns.models import Campaign, CampaignStatus
from crm.campaigns.rules import CallingHours, DialBlock, RetryPolicy, dial_block
from crm.clock import day_start
from crm.customers import service as customers
from crm.customers.models import Customer, Grade, Phone
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.phones import PhoneKind
from crm.projects.models import Project, ProjectStatus
from crm.settings import Settings, parse_calling_hours
from crm.users.models import Role, User
from crm.work_calendar import WorkCalendar

EDITABLE = (
    "name",
    "mode",
    "stages",
    "grades",
    "project_statuses",
    "due_from",
    "due_to",
    "agent_ids",
    "queue",
    "calling_hours",
    "max_concurrent",
    "pacing_ratio",
    "busy_retry_minutes",
    "no_answer_retry_minutes",
    "failed_retry_minutes",
    "max_attempts_per_day",
    "max_attempts_total",
    "redial_guard_minutes",
)
NULLABLE = ("due_from", "due_to", "queue", "calling_hours")  # unset: "any" or the settings'
DIAL_ORDER = (PhoneKind.MOBILE, PhoneKind.LANDLINE, PhoneKind.LOCAL)
# Outcomes that need a person, not another automatic try.
FOR_A_SUPERVISOR = (Outcome.REFUSED, Outcome.WRONG_PERSON)
TRANSITIONS = {
    "start": ({CampaignStatus.DRAFT, CampaignStatus.PAUSED}, CampaignStatus.RUNNING),
    "pause": ({CampaignStatus.RUNNING}, CampaignStatus.PAUSED),
    "stop": (
        {CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED},
        CampaignStatus.STOPPED,
    ),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    task_id: int
    project_id: int
    customer_id: int
    customer_name: str
    stage: Stage
    month: int
    due_date: date
    latest_date: date
    grade: Grade
    number: str


def policy(campaign: Campaign) -> RetryPolicy:
    return RetryPolicy(
        busy_after=timedelta(minutes=campaign.busy_retry_minutes),
        no_answer_after=timedelta(minutes=campaign.no_answer_retry_minutes),
        failed_after=timedelta(minutes=campaign.failed_retry_minutes),
        max_per_day=campaign.max_attempts_per_day,
        max_total=campaign.max_attempts_total,
    )


def hours(campaign: Campaign | None, settings: Settings, calendar: WorkCalendar) -> CallingHours:
    """The calling hours that apply: the campaign's own, else the centre's (settings)."""
    windows = (
        parse_calling_hours(campaign.calling_hours)
        if campaign is not None and campaign.calling_hours
        else settings.calling_hours
    )
    return CallingHours(tuple(windows), settings.tz, calendar)


async def dial_check(
    session: AsyncSession,
    *,
    number: str,
    settings: Settings,
    calendar: WorkCalendar,
    at: datetime,
    campaign: Campaign | None = None,
) -> DialBlock | None:
    """Whether `number` may be called now (rules.dial_block): by the customers who own it
    and the calling hours (the campaign's, or the centre's for an agent's own call)."""
    owners = await customers.find_by_phone(
        session, number, default_area_code=settings.default_area_code
    )
    refusing = [(c.name, c.do_not_call_reason) for c in owners if c.do_not_call]
    return dial_block(do_not_call=refusing, hours=hours(campaign, settings, calendar), at=at)


# -- definition -----------------------------------------------------------------------------


def _problems(values: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []

    def check(ok: bool, field: str, code: str, message: str) -> None:
        if not ok:
            problems.append(Problem(field, code, message))

    # An edit may send null for any field: only these may be empty (the name is checked below).
    empty = {
        n for n in EDITABLE if n not in (*NULLABLE, "name") and n in values and values[n] is None
    }
    problems.extend(Problem(n, "required", f"{n} cannot be empty") for n in sorted(empty))
    values = {k: v for k, v in values.items() if k not in empty}
    check(bool((values.get("name") or "").strip()), "name", "required", "name the campaign")
    for name, allowed in (
        ("stages", {s.value for s in Stage}),
        ("grades", {g.value for g in Grade}),
        ("project_statuses", {s.value for s in ProjectStatus}),
    ):
        unknown = set(values.get(name) or ()) - allowed
        check(
            not unknown,
            name,
            "unknown_value",
            f"unknown {name}: {', '.join(sorted(map(str, unknown)))}",
        )
    if values.get("due_from") and values.get("due_to"):
        check(
            values["due_from"] <= values["due_to"],
            "due_to",
            "range_reversed",
            "the due-date range ends before it starts",
        )
    if values.get("calling_hours"):
        try:
            parse_calling_hours(values["calling_hours"])
        except ValueError as exc:
            problems.append(Problem("calling_hours", "invalid_hours", str(exc)))
    check(
        1 <= values.get("max_concurrent", 1) <= 200,
        "max_concurrent",
        "out_of_range",
        "between 1 and 200 calls at once",
    )
    check(
        0 < values.get("pacing_ratio", 1.0) <= 3,
        "pacing_ratio",
        "out_of_range",
        "a ratio above 0 and at most 3",
    )
    for name in (
        "busy_retry_minutes",
        "no_answer_retry_minutes",
        "failed_retry_minutes",
        "redial_guard_minutes",
    ):
        check(
            0 <= values.get(name, 0) <= 7 * 24 * 60,
            name,
            "out_of_range",
            "between 0 minutes and a week",
        )
    per_day, total = values.get("max_attempts_per_day", 3), values.get("max_attempts_total", 6)
    check(1 <= per_day <= 20, "max_attempts_per_day", "out_of_range", "between 1 and 20")
    check(
        per_day <= total <= 50,
        "max_attempts_total",
        "out_of_range",
        "at least the daily limit, at most 50",
    )
    return problems


async def _check(session: AsyncSession, values: Mapping[str, Any]) -> None:
    problems = _problems(values)
    agent_ids = list(values.get("agent_ids") or ())
    if agent_ids:
        found = set(
            await session.scalars(
                select(User.id).where(
                    one_of(User.id, agent_ids), User.role == Role.AGENT, User.extension.is_not(None)
                )
            )
        )
        missing = sorted(set(agent_ids) - found)
        if missing:
            problems.append(
                Problem("agent_ids", "not_agents", f"not agents with an extension: {missing}")
            )
    if problems:
        raise ValidationError.of(problems)


async def get_or_raise(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id}", code="campaign_not_found")
    return campaign


async def get_all(session: AsyncSession) -> list[Campaign]:
    return list(await session.scalars(select(Campaign).order_by(Campaign.id.desc())))


async def get_running(session: AsyncSession) -> list[Campaign]:
    return list(
        await session.scalars(
            select(Campaign).where(Campaign.status == CampaignStatus.RUNNING).order_by(Campaign.id)
        )
    )


async def create(session: AsyncSession, *, owner_id: int, **values: Any) -> Campaign:
    """A draft campaign; defaults fill what is not given."""
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    campaign = Campaign(owner_id=owner_id, **values)
    defaults = {
        c.name: c.default.arg
        for c in Campaign.__table__.columns
        if c.default is not None and not callable(c.default.arg)
    }
    await _check(session, {**defaults, **values})
    session.add(campaign)
    await session.flush()
    return campaign


async def update_fields(session: AsyncSession, campaign: Campaign, **changes: Any) -> Campaign:
    """Edit a campaign that is not stopped; a running one uses the new values at once."""
    if campaign.status is CampaignStatus.STOPPED:
        raise Conflict("a stopped campaign cannot be changed", code="campaign_stopped")
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"unknown campaign fields: {sorted(unknown)}")
    await _check(session, {**{f: getattr(campaign, f) for f in EDITABLE}, **changes})
    for name, value in changes.items():
        setattr(campaign, name, value)
    await session.flush()
    return campaign


async def transition(
    session: AsyncSession, campaign: Campaign, action: str, *, at: datetime
) -> Campaign:
    """start, pause or stop. A paused campaign finishes its calls and dials nothing new."""
    allowed, target = TRANSITIONS[action]
    if campaign.status not in allowed:
        raise Conflict(
            f"a {campaign.status.value} campaign cannot {action}", code="invalid_transition"
        )
    campaign.status = target
    if target is CampaignStatus.RUNNING and campaign.started_at is None:
        campaign.started_at = at
    if target is CampaignStatus.STOPPED:
        campaign.stopped_at = at
    await session.flush()
    return campaign


SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")


# -- what to dial next ------------------------------------------------------------------------


def _day_start(at: datetime, settings: Settings) -> datetime:
    local = at.astimezone(settings.tz)
    return day_start(local.date(), settings.tz)


# Prebuilt with expanding parameters: the lists go in as values at execution, so no call
# coerces hundreds of literals into a new statement, and the compiled form is cached.
_RECENT_NUMBERS = (
    select(CallbackAttempt.dialed_number.label("number"))
    .where(
        one_of(CallbackAttempt.dialed_number, "numbers"),
        CallbackAttempt.started_at >= bindparam("since"),
    )
    .union_all(
        select(Call.customer_number).where(
            one_of(Call.customer_number, "numbers"),
            Call.started_at >= bindparam("since"),
        )
    )
)
_DIALABLE_PHONES = select(Phone.customer_id, Phone.id, Phone.kind, Phone.number).where(
    one_of(Phone.customer_id, "customer_ids"),
    Phone.kind.in_(DIAL_ORDER),
)


async def _recent_numbers(
    session: AsyncSession, numbers: Sequence[str], since: datetime
) -> set[str]:
    """Numbers someone dialed, or who called, since then (they rest before the next try):
    both in one round trip."""
    if not numbers:
        return set()
    found = await session.scalars(_RECENT_NUMBERS, {"numbers": list(numbers), "since": since})
    return {n for n in found if n}


async def _best_numbers(session: AsyncSession, customer_ids: Sequence[int]) -> dict[int, str]:
    """Each customer's number to dial: mobile before landline before local, then the first
    entered."""
    if not customer_ids:
        return {}
    best: dict[int, tuple[int, int, str]] = {}  # customer → (dial rank, phone id, number)
    for phone in await session.execute(_DIALABLE_PHONES, {"customer_ids": list(customer_ids)}):
        best[phone.customer_id] = min(
            best.get(phone.customer_id, (len(DIAL_ORDER), 0, "")),
            (DIAL_ORDER.index(phone.kind), phone.id, phone.number),
        )
    return {owner_id: dialed for owner_id, (_, _, dialed) in best.items()}


def _due(query: SelectT, campaign: Campaign, *, settings: Settings, now: datetime) -> SelectT:
    """`query` over the campaign's dialable tasks now: pending, not yet effective, within
    its attempt limits and not resting; no cancelled projects or do-not-call customers; the
    campaign's stages, grades, project statuses and due dates."""
    today = now.astimezone(settings.tz).date()
    attempts_today = (
        select(func.count())
        .where(
            CallbackAttempt.task_id == CallbackTask.id,
            CallbackAttempt.started_at >= _day_start(now, settings),
        )
        .scalar_subquery()
    )
    query = (
        query.select_from(CallbackTask)
        .join(Project, Project.id == CallbackTask.project_id)
        .join(Customer, Customer.id == Project.customer_id)
        .where(
            CallbackTask.status == TaskStatus.PENDING,
            CallbackTask.effective.is_(False),
            CallbackTask.attempt_count < campaign.max_attempts_total,
            or_(CallbackTask.not_before.is_(None), CallbackTask.not_before <= now),
            Project.status != ProjectStatus.CANCELLED,
            Customer.do_not_call.is_(False),
            attempts_today < campaign.max_attempts_per_day,
        )
    )
    if campaign.due_from is not None:
        query = query.where(CallbackTask.due_date >= campaign.due_from)
    query = query.where(CallbackTask.due_date <= (campaign.due_to or today))
    if campaign.stages:
        query = query.where(one_of(CallbackTask.stage, [Stage(s) for s in campaign.stages]))
    if campaign.grades:
        query = query.where(one_of(Customer.grade, [Grade(g) for g in campaign.grades]))
    if campaign.project_statuses:
        query = query.where(
            one_of(Project.status, [ProjectStatus(s) for s in campaign.project_statuses])
        )
    return query


async def next_tasks(
    session: AsyncSession, campaign: Campaign, *, settings: Settings, now: datetime, limit: int
) -> list[Candidate]:
    """The campaign's due tasks in dialing order: overdue first, grade A before B before C,
    then by due date; never do-not-call customers, cancelled projects, satisfied or resting
    tasks, tasks at their attempt limits, or numbers dialed in the last minutes."""
    today = now.astimezone(settings.tz).date()
    # Plain columns, not entities: hundreds of rows are read per pick, and building ORM
    # objects for them cost more than the query itself.
    query = _due(
        select(
            CallbackTask.id.label("task_id"),
            Project.id.label("project_id"),
            Customer.id.label("customer_id"),
            Customer.name.label("customer_name"),
            CallbackTask.stage,
            CallbackTask.month,
            CallbackTask.due_date,
            CallbackTask.latest_date,
            Customer.grade,
            CallbackTask.priority,
        ),
        campaign,
        settings=settings,
        now=now,
    )
    # The dialing order, one slice at a time (overdue or not × priority), each a range of the
    # (status, priority, due_date, id) index read in order: the database stops after a batch
    # instead of sorting every due task, and later slices are not read at all once the
    # earlier ones gave enough. A batch is a little more than is still missing (some rows
    # are dropped: one call per customer, resting numbers); a slice is read on, batch after
    # batch, only when its rows ran short. Each batch's numbers and resting numbers are read
    # for its rows alone.
    since = now - timedelta(minutes=campaign.redial_guard_minutes)
    candidates: list[Candidate] = []
    seen_customers: set[int] = set()
    for overdue in (True, False):
        late = CallbackTask.latest_date < today if overdue else CallbackTask.latest_date >= today
        for priority in (
            CallbackTask.priority <= 1,
            CallbackTask.priority == 2,
            CallbackTask.priority >= 3,
        ):
            in_order = query.where(priority, late).order_by(
                CallbackTask.priority, CallbackTask.due_date, CallbackTask.id
            )
            read = 0
            while len(candidates) < limit:
                batch = (limit - len(candidates)) * 3 // 2 + 10
                rows = list(await session.execute(in_order.limit(batch).offset(read)))
                read += len(rows)
                await _pick(
                    session,
                    rows,
                    candidates,
                    seen_customers,
                    limit=limit,
                    since=since,
                    guard=bool(campaign.redial_guard_minutes),
                )
                if len(rows) < batch:
                    break  # the slice is exhausted
            if len(candidates) >= limit:
                return candidates
    return candidates


async def _pick(
    session: AsyncSession,
    rows: Sequence[Row[*tuple[Any, ...]]],
    candidates: list[Candidate],
    seen_customers: set[int],
    *,
    limit: int,
    since: datetime,
    guard: bool,
) -> None:
    """Append the rows (in dialing order) that may be called now to `candidates`, up to
    `limit`: one call per customer at a time, on their best number, none resting."""
    fresh = [r for r in rows if r.customer_id not in seen_customers]
    chosen = await _best_numbers(session, list({r.customer_id for r in fresh}))
    resting = await _recent_numbers(session, list(set(chosen.values())), since) if guard else set()
    for row in fresh:
        number = chosen.get(row.customer_id)
        if number is None or number in resting or row.customer_id in seen_customers:
            continue
        seen_customers.add(row.customer_id)
        candidates.append(
            Candidate(
                task_id=row.task_id,
                project_id=row.project_id,
                customer_id=row.customer_id,
                customer_name=row.customer_name,
                stage=row.stage,
                month=row.month,
                due_date=row.due_date,
                latest_date=row.latest_date,
                grade=row.grade,
                number=number,
            )
        )
        if len(candidates) == limit:
            return


@dataclass(frozen=True, slots=True)
class ReadyAgent:
    """An agent an agent-first campaign may give its next call to."""

    user_id: int
    extension: str
    name: str


async def ready_agents(session: AsyncSession, *, campaign: Campaign) -> list[ReadyAgent]:
    """The campaign's agents (any agent, when it names none) who are ready now: active, with
    a softphone extension, longest ready first. Whether their phone is free is the PBX's to
    say, not the database's."""
    query = (
        select(User.id, User.extension, User.display_name)
        .join(AgentState, AgentState.user_id == User.id)
        .where(
            AgentState.status == AgentStatus.READY,
            User.role == Role.AGENT,
            User.is_active.is_(True),
            User.extension.is_not(None),
        )
        .order_by(AgentState.since, User.id)
    )
    if campaign.agent_ids:
        query = query.where(one_of(User.id, campaign.agent_ids))
    return [
        ReadyAgent(user_id=row.id, extension=row.extension, name=row.display_name)
        for row in await session.execute(query)
        if row.extension
    ]


async def claim(
    session: AsyncSession,
    campaign: Campaign,
    candidate: Candidate,
    *,
    agent_id: int | None,
    at: datetime,
) -> CallbackAttempt | None:
    """Take the task for one call, or None when someone else took it first. The conditional
    update is what keeps two dialers from ever dialing the same task."""
    taken = await session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == candidate.task_id, CallbackTask.status == TaskStatus.PENDING)
        .values(status=TaskStatus.IN_PROGRESS, attempt_count=CallbackTask.attempt_count + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    attempt = CallbackAttempt(
        task_id=candidate.task_id,
        made_by=MadeBy.CAMPAIGN,
        campaign_id=campaign.id,
        agent_id=agent_id,
        started_at=at,
        dialed_number=candidate.number,
    )
    session.add(attempt)
    await session.flush()
    return attempt


async def in_flight(
    session: AsyncSession, *, campaign_id: int | None = None
) -> list[CallbackAttempt]:
    """Campaign attempts written but not yet resolved (dialing, ringing or talking)."""
    query = select(CallbackAttempt).where(
        CallbackAttempt.made_by == MadeBy.CAMPAIGN, CallbackAttempt.outcome.is_(None)
    )
    if campaign_id is not None:
        query = query.where(CallbackAttempt.campaign_id == campaign_id)
    return list(await session.scalars(query))


# -- outcomes ---------------------------------------------------------------------------------


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
    """Record an attempt's outcome (any attempt); a campaign's task then rests until its
    retry is due, or becomes unreachable for a supervisor once its attempts are spent."""
    await callbacks.complete_attempt(
        session,
        attempt=attempt,
        outcome=outcome,
        at=at,
        satisfaction=satisfaction,
        notes=notes,
        call_back_at=call_back_at,
    )
    if attempt.campaign_id is None:
        return attempt
    campaign = await session.get(Campaign, attempt.campaign_id)
    task = await session.get(CallbackTask, attempt.task_id)
    assert campaign is not None and task is not None
    if task.status is not TaskStatus.PENDING or task.effective:
        return attempt
    rules = policy(campaign)
    if outcome in FOR_A_SUPERVISOR or rules.exhausted(total=task.attempt_count):
        task.status = TaskStatus.UNREACHABLE
        task.not_before = None
    else:
        task.not_before = rules.next_try(outcome, at, call_back_at)
    await session.flush()
    return attempt


async def complete_open_attempt(
    session: AsyncSession, *, attempt_id: int, outcome: Outcome, at: datetime, notes: str = ""
) -> bool:
    """Record the outcome the PBX gave an attempt (busy, refused...), unless the attempt is
    unknown or already has one (the agent's form came first); whether it was recorded."""
    attempt = await session.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.outcome is not None:
        return False
    await complete_attempt(session, attempt=attempt, outcome=outcome, at=at, notes=notes)
    return True


@dataclass(frozen=True, slots=True)
class CampaignStageProgress:
    """How far a campaign has got with one stage's callbacks."""

    stage: str
    due: int
    dialing: int
    reached: int
    effective: int
    satisfied: int
    unsatisfied: int
    unreachable: int


@dataclass(slots=True)
class _Tally:
    dialing: int = 0
    reached: int = 0
    effective: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    unreachable: set[int] = field(default_factory=set)


REACHED = (Outcome.EFFECTIVE, Outcome.WRONG_PERSON, Outcome.REFUSED, Outcome.CALL_LATER)


async def progress(
    session: AsyncSession, campaign: Campaign, *, settings: Settings, now: datetime
) -> list[CampaignStageProgress]:
    """Per stage: tasks still due, calls in progress, customers reached, effective callbacks
    (satisfied in every area asked, or not), and tasks left to a supervisor."""
    due = {
        stage.value: int(count)
        for stage, count in await session.execute(
            _due(
                select(CallbackTask.stage, func.count()), campaign, settings=settings, now=now
            ).group_by(CallbackTask.stage)
        )
    }
    tallies: dict[str, _Tally] = {}
    rows = await session.execute(
        select(CallbackTask.stage, CallbackTask.status, CallbackAttempt)
        .join(CallbackAttempt, CallbackAttempt.task_id == CallbackTask.id)
        .where(CallbackAttempt.campaign_id == campaign.id)
    )
    for stage, status, attempt in rows:
        tally = tallies.setdefault(stage.value, _Tally())
        if attempt.outcome is None:
            tally.dialing += 1
        elif attempt.outcome in REACHED:
            tally.reached += 1
        if attempt.outcome is Outcome.EFFECTIVE:
            tally.effective += 1
            if Satisfaction.UNSATISFIED in attempt.satisfaction().values():
                tally.unsatisfied += 1
            else:
                tally.satisfied += 1
        if status is TaskStatus.UNREACHABLE:
            tally.unreachable.add(attempt.task_id)
    return [
        CampaignStageProgress(
            stage.value,
            due.get(stage.value, 0),
            t.dialing,
            t.reached,
            t.effective,
            t.satisfied,
            t.unsatisfied,
            len(t.unreachable),
        )
        for stage in Stage
        if stage.value in due or stage.value in tallies
        for t in [tallies.get(stage.value, _Tally())]
    ]


async def attempts(
    session: AsyncSession, campaign: Campaign, *, limit: int = 200, offset: int = 0
) -> list[tuple[CallbackAttempt, CallbackTask, Customer]]:
    rows = await session.execute(
        select(CallbackAttempt, CallbackTask, Customer)
        .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
        .join(Project, Project.id == CallbackTask.project_id)
        .join(Customer, Customer.id == Project.customer_id)
        .where(CallbackAttempt.campaign_id == campaign.id)
        .order_by(CallbackAttempt.started_at.desc(), CallbackAttempt.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [(a, t, c) for a, t, c in rows]
