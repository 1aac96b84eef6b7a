"""`GET /api/wallboard`: the supervisors' live wallboard in one snapshot — today's queue and
agent figures (conventions in crm/calls/stats.py), calls waiting now and agents on a call
(the bridge's live view), the work that is late, and the figures past an alert threshold
(crm/wallboard/thresholds.py), which the page colours."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from crm.agents.models import AgentStatus
from crm.agents.presence import Presence, present
from crm.agents.states import PAUSE_REASONS
from crm.calls.stats import CountedCall
from crm.campaigns.models import DialMode
from crm.complaints.models import ComplaintGrade
from crm.users.models import Role
from crm.wallboard import service as wallboard
from crm.wallboard.service import DayFigures, LateWork
from crm.wallboard.thresholds import (
    AgentNow,
    Level,
    Limit,
    Measure,
    QueueNow,
    Thresholds,
    evaluate,
)
from telephony.events import CallRecord
from web.auth import require
from web.floor import LiveView, agent_extensions, live_view
from web.recordings_disk import RecordingsDisk
from web.services import Services, services

router = APIRouter(prefix="/api/wallboard", tags=["wallboard"])
supervisors = require(Role.SUPERVISOR, Role.ADMIN)


class WallboardQueue(BaseModel):
    queue: str
    waiting: int
    oldest_waiting_since: datetime | None
    offered: int
    answered: int
    abandoned: int
    abandoned_within_threshold: int
    timed_out: int
    no_agent: int  # refused or let go by the queue: nobody was logged in or reachable
    failed: int  # the PBX ended the call itself before an answer (stopped, restarted)
    answered_within_threshold: int
    service_level: float | None
    average_speed_of_answer: float | None
    longest_wait: float | None
    abandon_rate: float | None


class WallboardHour(BaseModel):
    hour: int
    answered: int
    abandoned: int
    no_agent: int


class WallboardAgent(BaseModel):
    user_id: int
    name: str
    extension: str | None
    status: Presence  # the chosen state, unless the phone rings or a call is connected
    reason: str | None
    since: datetime | None  # in this state since (on a call: answered; ringing: rang)
    handled: int
    talk_seconds: float
    wrapup_seconds: float
    ready_seconds: float
    paused_seconds: float


class WallboardCampaign(BaseModel):
    id: int
    name: str
    mode: DialMode
    started_at: datetime | None
    attempts_today: int
    effective_today: int


class WallboardComplaint(BaseModel):
    id: int
    customer: str
    department: str
    category: str
    grade: ComplaintGrade
    next_due_at: datetime
    overdue: bool


class WallboardRepair(BaseModel):
    id: int
    customer: str
    crew: str
    arrival_due_at: datetime


class WallboardProject(BaseModel):
    project_id: int
    contract_number: str
    customer: str
    stages: list[str]


class WallboardLimit(BaseModel):
    warn: float
    alert: float

    @classmethod
    def of(cls, limit: Limit) -> WallboardLimit:
        return cls(warn=limit.warn, alert=limit.alert)


class WallboardThresholds(BaseModel):
    """The alert levels in force (CALLCENTRE_ALERT_*)."""

    callers_waiting: WallboardLimit
    longest_wait_seconds: WallboardLimit
    abandon_rate: WallboardLimit  # percent
    abandon_min_offered: int
    paused_minutes: WallboardLimit
    paused_minutes_by_reason: dict[str, WallboardLimit]

    @classmethod
    def of(cls, limits: Thresholds) -> WallboardThresholds:
        return cls(
            callers_waiting=WallboardLimit.of(limits.callers_waiting),
            longest_wait_seconds=WallboardLimit.of(limits.longest_wait_seconds),
            abandon_rate=WallboardLimit.of(limits.abandon_rate),
            abandon_min_offered=limits.abandon_min_offered,
            paused_minutes=WallboardLimit.of(limits.paused_minutes),
            paused_minutes_by_reason={
                reason: WallboardLimit.of(limit)
                for reason, limit in limits.paused_minutes_by_reason.items()
            },
        )


class WallboardAlert(BaseModel):
    """A figure at or past a level: on a queue's tile, or on an agent's row."""

    key: str  # measure and subject: the same alert from one snapshot to the next
    measure: Measure
    level: Level
    value: float  # callers, seconds, percent or minutes, as the measure counts
    limit: float  # the level reached
    queue: str | None = None
    agent_id: int | None = None
    agent_name: str | None = None
    reason: str | None = None


class WallboardOut(BaseModel):
    server_time: datetime
    day: date
    day_started_at: datetime
    threshold_seconds: int
    pbx_connected: bool | None
    queues: list[WallboardQueue]
    hours: list[WallboardHour]
    agents: list[WallboardAgent]
    campaigns: list[WallboardCampaign]
    complaints_overdue: int
    complaints_due_soon: int
    complaints: list[WallboardComplaint]
    repairs_overdue: int
    repairs: list[WallboardRepair]
    projects_missing_callbacks: int
    projects: list[WallboardProject]
    thresholds: WallboardThresholds
    alerts: list[WallboardAlert]
    pause_reasons: list[str]  # what a supervisor may pause an agent for
    recordings_disk: RecordingsDisk  # not ok: the page warns that the disk is filling


def board_now(
    queues: list[WallboardQueue], agents: list[WallboardAgent]
) -> tuple[list[QueueNow], list[AgentNow]]:
    """The figures the thresholds look at, from a snapshot's queues and agents."""
    return (
        [
            QueueNow(q.queue, q.waiting, q.oldest_waiting_since, q.offered, q.abandon_rate)
            for q in queues
        ],
        [AgentNow(a.user_id, a.name, a.status, a.reason, a.since) for a in agents],
    )


def _facts(record: CallRecord, agents: dict[str, int]) -> CountedCall:
    return CountedCall(
        linkedid=record.linkedid,
        started_at=record.started_at,
        queue=record.queue,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        outcome=record.outcome,
        wait_seconds=record.wait_seconds,
        talk_seconds=record.talk_seconds,
        agent_id=agents.get(record.agent_extension or ""),
    )


def _tracked(svc: Services, extensions: dict[str, int]) -> list[CountedCall]:
    """The bridge's newest view of live and recently ended calls (ahead of the database)."""
    if svc.bridge is None:
        return []
    tracker = svc.bridge.tracker
    return [_facts(r, extensions) for r in (*tracker.recent_calls(), *tracker.live_calls())]


def _agent(row: wallboard.AgentRow, figures: DayFigures, live: LiveView) -> WallboardAgent:
    calls = figures.agent_calls.get(row.user_id)
    seconds = figures.state_seconds.get(row.user_id, {})
    now = present(
        status=row.status, reason=row.reason, since=row.since, phone=live.phone(row.user_id)
    )
    return WallboardAgent(
        user_id=row.user_id,
        name=row.name,
        extension=row.extension,
        status=now.presence,
        reason=now.reason,
        since=now.since,
        handled=calls.handled if calls else 0,
        talk_seconds=round(calls.talk_seconds, 1) if calls else 0.0,
        wrapup_seconds=round(seconds.get(AgentStatus.WRAPUP, 0.0), 1),
        ready_seconds=round(seconds.get(AgentStatus.READY, 0.0), 1),
        paused_seconds=round(seconds.get(AgentStatus.PAUSED, 0.0), 1),
    )


async def late_work(svc: Services) -> LateWork:
    async with svc.database.session() as session:
        return await wallboard.late_work(
            session,
            now=svc.clock.now(),
            tz=svc.settings.tz,
            due_soon_fraction=svc.settings.due_soon_fraction,
        )


async def snapshot(svc: Services, *, late: LateWork | None = None) -> WallboardOut:
    """Everything the wallboard shows. `late`: the late work, when the caller keeps it."""
    settings, now = svc.settings, svc.clock.now()
    extensions = await agent_extensions(svc)
    live = await live_view(svc, extensions)
    async with svc.database.session() as session:
        figures = await wallboard.day_figures(
            session,
            now=now,
            tz=settings.tz,
            threshold_seconds=settings.answer_within_seconds,
            queues={settings.queue, settings.callback_queue, *live.waiting},
            live=_tracked(svc, extensions),
        )
    late = late or await late_work(svc)
    order = {settings.queue: 0, settings.callback_queue: 1}  # the hotline first
    figures.queues.sort(key=lambda q: (order.get(q.queue, 2), q.queue))
    queues = [
        WallboardQueue(
            queue=q.queue,
            waiting=len(live.waiting.get(q.queue, ())),
            oldest_waiting_since=live.oldest(q.queue),
            offered=q.offered,
            answered=q.answered,
            abandoned=q.abandoned,
            abandoned_within_threshold=q.abandoned_within_threshold,
            timed_out=q.timed_out,
            no_agent=q.no_agent,
            failed=q.failed,
            answered_within_threshold=q.answered_within_threshold,
            service_level=q.service_level,
            average_speed_of_answer=q.average_speed_of_answer,
            longest_wait=q.longest_wait,
            abandon_rate=q.abandon_rate,
        )
        for q in figures.queues
    ]
    agents = [_agent(row, figures, live) for row in figures.agents]
    limits = Thresholds.of(settings)
    alerts = evaluate(*board_now(queues, agents), limits, now)
    return WallboardOut(
        server_time=now,
        day=figures.day,
        day_started_at=figures.start,
        threshold_seconds=settings.answer_within_seconds,
        pbx_connected=svc.pbx_connected(),
        queues=queues,
        hours=[
            WallboardHour(
                hour=h.hour, answered=h.answered, abandoned=h.abandoned, no_agent=h.no_agent
            )
            for h in figures.hours
        ],
        agents=agents,
        campaigns=[
            WallboardCampaign(
                id=c.id,
                name=c.name,
                mode=c.mode,
                started_at=c.started_at,
                attempts_today=c.attempts_today,
                effective_today=c.effective_today,
            )
            for c in late.campaigns
        ],
        complaints_overdue=late.complaints_overdue,
        complaints_due_soon=late.complaints_due_soon,
        complaints=[
            WallboardComplaint(
                id=c.id,
                customer=c.customer,
                department=c.department,
                category=c.category,
                grade=c.grade,
                next_due_at=c.next_due_at,
                overdue=c.overdue,
            )
            for c in late.complaints
        ],
        repairs_overdue=late.repairs_overdue,
        repairs=[
            WallboardRepair(
                id=r.id, customer=r.customer, crew=r.crew, arrival_due_at=r.arrival_due_at
            )
            for r in late.repairs
        ],
        projects_missing_callbacks=late.projects_missing_callbacks,
        projects=[
            WallboardProject(
                project_id=p.project_id,
                contract_number=p.contract_number,
                customer=p.customer,
                stages=[s.value for s in p.stages],
            )
            for p in late.projects
        ],
        thresholds=WallboardThresholds.of(limits),
        alerts=[
            WallboardAlert(
                key=a.key,
                measure=a.measure,
                level=a.level,
                value=a.value,
                limit=a.limit,
                queue=a.queue,
                agent_id=a.agent_id,
                agent_name=a.agent_name,
                reason=a.reason,
            )
            for a in alerts
        ],
        pause_reasons=list(PAUSE_REASONS),
        recordings_disk=await svc.recordings_disk.figures(),
    )


@router.get("", response_model=WallboardOut, dependencies=[Depends(supervisors)])
async def get_wallboard(svc: Services = Depends(services)) -> WallboardOut:
    return await snapshot(svc)
