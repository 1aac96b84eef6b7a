"""The supervisor wallboard's figures from the database: today's queue and agent statistics
(the conventions are in `crm.calls.stats`) and the work that is late."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents.models import AgentState, AgentStateLog, AgentStatus
from crm.agents.stats import StatePeriod, time_in_states
from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, Outcome, Stage
from crm.calls import service as call_records
from crm.calls.stats import (
    AgentCalls,
    CountedCall,
    HourCounts,
    QueueStats,
    agent_calls,
    calls_per_hour,
    merge,
    queue_stats,
)
from crm.campaigns.models import Campaign, CampaignStatus, DialMode
from crm.clock import local_day_window
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintStatus
from crm.customers.models import Customer
from crm.one_of import one_of
from crm.projects.models import Project
from crm.repairs.models import Repair, RepairStatus
from crm.users.models import Role, User

LISTED = 10  # items listed per late-work tile; the counts cover them all


@dataclass(frozen=True, slots=True)
class AgentRow:
    user_id: int
    name: str
    extension: str | None
    status: AgentStatus
    reason: str | None
    since: datetime | None


@dataclass(slots=True)
class DayFigures:
    day: date
    start: datetime
    queues: list[QueueStats]
    hours: list[HourCounts]
    agents: list[AgentRow]
    agent_calls: dict[int, AgentCalls]
    state_seconds: dict[int, dict[AgentStatus, float]]


async def stored_calls(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[CountedCall]:
    """The calls that started in [start, end), as the statistics see them."""
    return [call for call, _ in await call_records.counted_calls(session, start=start, end=end)]


async def state_periods(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[StatePeriod]:
    """Agents' periods in a state that overlap [start, end)."""
    rows = await session.scalars(
        select(AgentStateLog).where(
            AgentStateLog.started_at < end,
            AgentStateLog.ended_at.is_(None) | (AgentStateLog.ended_at > start),
        )
    )
    return [StatePeriod(r.user_id, r.status, r.started_at, r.ended_at) for r in rows]


async def agent_rows(session: AsyncSession) -> list[AgentRow]:
    """Every active agent with the state they are in (logged out if never seen)."""
    rows = await session.execute(
        select(User, AgentState)
        .outerjoin(AgentState, AgentState.user_id == User.id)
        .where(User.role == Role.AGENT, User.is_active.is_(True))
        .order_by(User.extension, User.id)
    )
    return [
        AgentRow(
            u.id,
            u.display_name,
            u.extension,
            s.status if s else AgentStatus.LOGGED_OUT,
            s.reason if s else None,
            s.since if s else None,
        )
        for u, s in rows
    ]


async def day_figures(
    session: AsyncSession,
    *,
    now: datetime,
    tz: ZoneInfo,
    threshold_seconds: float,
    queues: Iterable[str] = (),
    live: Iterable[CountedCall] = (),
) -> DayFigures:
    """Today's (local) figures up to `now`. `live` holds newer views of calls (the bridge's
    tracker) that replace the stored rows of the same calls."""
    day, start, end = local_day_window(now, tz)
    todays_live = [c for c in live if start <= c.started_at < end]
    calls = merge(await stored_calls(session, start=start, end=end), todays_live)
    periods = await state_periods(session, start=start, end=end)
    return DayFigures(
        day=day,
        start=start,
        queues=queue_stats(calls, threshold_seconds=threshold_seconds, queues=queues),
        hours=calls_per_hour(calls, day=day, tz=tz),
        agents=await agent_rows(session),
        agent_calls=agent_calls(calls, now=now),
        state_seconds=time_in_states(periods, start=start, end=min(now, end)),
    )


# -- late work ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunningCampaign:
    id: int
    name: str
    mode: DialMode
    started_at: datetime | None
    attempts_today: int
    effective_today: int


@dataclass(frozen=True, slots=True)
class LateComplaint:
    id: int
    customer: str
    department: str
    category: str
    grade: ComplaintGrade
    next_due_at: datetime
    overdue: bool


@dataclass(frozen=True, slots=True)
class LateRepair:
    id: int
    customer: str
    crew: str
    arrival_due_at: datetime


@dataclass(frozen=True, slots=True)
class ProjectMissingCallbacks:
    project_id: int
    contract_number: str
    customer: str
    stages: list[Stage]


@dataclass(slots=True)
class LateWork:
    campaigns: list[RunningCampaign] = field(default_factory=list)
    complaints_overdue: int = 0
    complaints_due_soon: int = 0
    complaints: list[LateComplaint] = field(default_factory=list)
    repairs_overdue: int = 0
    repairs: list[LateRepair] = field(default_factory=list)
    projects_missing_callbacks: int = 0
    projects: list[ProjectMissingCallbacks] = field(default_factory=list)


async def running_campaigns(session: AsyncSession, *, since: datetime) -> list[RunningCampaign]:
    """Campaigns dialing now, with their attempts (and effective ones) since `since`."""
    campaigns = list(
        await session.scalars(
            select(Campaign).where(Campaign.status == CampaignStatus.RUNNING).order_by(Campaign.id)
        )
    )
    if not campaigns:
        return []
    counts = {
        cid: (total, effective or 0)
        for cid, total, effective in await session.execute(
            select(
                CallbackAttempt.campaign_id,
                func.count(),
                func.sum(case((CallbackAttempt.outcome == Outcome.EFFECTIVE, 1), else_=0)),
            )
            .where(
                one_of(CallbackAttempt.campaign_id, [c.id for c in campaigns]),
                CallbackAttempt.started_at >= since,
            )
            .group_by(CallbackAttempt.campaign_id)
        )
    }
    return [
        RunningCampaign(c.id, c.name, c.mode, c.started_at, *counts.get(c.id, (0, 0)))
        for c in campaigns
    ]


async def late_complaints(
    session: AsyncSession, *, now: datetime, due_soon_fraction: float
) -> tuple[int, int, list[LateComplaint]]:
    """Open complaints past their next deadline, and those about to be: in the last
    `due_soon_fraction` of the time their clocks gave them (as the complaint alerts count
    it). The counts, and the most pressing few."""
    rows = await session.execute(
        select(Complaint, Customer.name)
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(Complaint.status != ComplaintStatus.CLOSED, Complaint.next_due_at.is_not(None))
        .order_by(Complaint.next_due_at, Complaint.id)
    )  # open complaints are few
    overdue: list[LateComplaint] = []
    soon: list[LateComplaint] = []
    for complaint, name in rows:
        due = complaint.next_due_at
        assert due is not None
        item = LateComplaint(
            complaint.id,
            name,
            complaint.department,
            complaint.category,
            complaint.grade,
            due,
            due < now,
        )
        if item.overdue:
            overdue.append(item)
        elif now >= due - (due - complaint.clocks_from) * due_soon_fraction:
            soon.append(item)
    return len(overdue), len(soon), (overdue + soon)[:LISTED]


async def late_repairs(session: AsyncSession, *, now: datetime) -> tuple[int, list[LateRepair]]:
    """Repairs whose crew has not arrived by the time it was due."""
    late = (
        Repair.arrived_at.is_(None),
        Repair.status != RepairStatus.CLOSED,
        Repair.arrival_due_at < now,
    )
    count = await session.scalar(select(func.count()).select_from(Repair).where(*late)) or 0
    rows = await session.execute(
        select(Repair, Customer.name)
        .join(Customer, Customer.id == Repair.customer_id)
        .where(*late)
        .order_by(Repair.arrival_due_at, Repair.id)
        .limit(LISTED)
    )
    return count, [LateRepair(r.id, name, r.crew, r.arrival_due_at) for r, name in rows]


async def projects_missing_callbacks(
    session: AsyncSession, *, today: date
) -> tuple[int, list[ProjectMissingCallbacks]]:
    """Projects lacking an effective stage callback past its window (the SPEC's
    "at least 4 effective callbacks"), oldest first."""
    missing = await callbacks.non_compliant_projects(session, today=today)
    listed = missing[:LISTED]
    names: dict[int, str] = {}
    if listed:
        rows = await session.execute(
            select(Project.id, Customer.name)
            .join(Customer, Customer.id == Project.customer_id)
            .where(one_of(Project.id, [p.id for p, _ in listed]))
        )
        names = {project_id: name for project_id, name in rows}  # noqa: C416 - a Result
    return len(missing), [
        ProjectMissingCallbacks(p.id, p.contract_number, names.get(p.id, ""), stages)
        for p, stages in listed
    ]


async def late_work(
    session: AsyncSession, *, now: datetime, tz: ZoneInfo, due_soon_fraction: float
) -> LateWork:
    today, start, _ = local_day_window(now, tz)
    work = LateWork(campaigns=await running_campaigns(session, since=start))
    work.complaints_overdue, work.complaints_due_soon, work.complaints = await late_complaints(
        session, now=now, due_soon_fraction=due_soon_fraction
    )
    work.repairs_overdue, work.repairs = await late_repairs(session, now=now)
    work.projects_missing_callbacks, work.projects = await projects_missing_callbacks(
        session, today=today
    )
    return work
