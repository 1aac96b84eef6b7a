"""The wallboard's statistics against a hand-built day of calls with known answer and abandon
times, and its late-work counts, on SQLite and PostgreSQL. Every expected figure is worked
out by hand in the comments next to it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.agents.models import AgentState, AgentStateLog, AgentStatus
from crm.agents.stats import StatePeriod, time_in_states
from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, MadeBy, Outcome, Satisfaction
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction
from crm.calls.stats import CountedCall, merge, queue_stats
from crm.campaigns.models import Campaign, CampaignStatus
from crm.clock import FixedClock, local_day_window
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource, ComplaintStatus
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.repairs.models import Repair, RepairStatus
from crm.users import service as users
from crm.users.models import Role
from crm.wallboard import service as wallboard
from tests.support.agents import add_agent

TZ = ZoneInfo("Asia/Shanghai")
T = 15  # answer within 15 s: "3 rings"


def local(hour: int, minute: int = 0, second: int = 0, *, day: int = 23) -> datetime:
    """An instant given in Shanghai time on 2026-11-`day` (the clock fixture's Monday)."""
    return datetime(2026, 11, day, hour, minute, second, tzinfo=TZ).astimezone(UTC)


async def _agents(db: Database) -> dict[str, int]:
    async with db.session() as session:
        ids = {}
        for name, ext in (("agent1", "1001"), ("agent2", "1002"), ("agent3", "1003")):
            ids[name] = await add_agent(session, ext, username=name)
        boss = await users.create(
            session,
            username="supervisor",
            password="password-1",
            display_name="组长",
            role=Role.SUPERVISOR,
        )
        ids["supervisor"] = boss.id
        return ids


def _call(
    linkedid: str,
    start: datetime,
    *,
    queue: str | None = "service",
    answer_after: float | None = None,
    end_after: float | None = None,
    outcome: CallOutcome | None = None,
    wait: float | None = None,
    talk: float | None = None,
    agent: int | None = None,
    direction: Direction = Direction.INBOUND,
) -> Call:
    answered = start + timedelta(seconds=answer_after) if answer_after is not None else None
    return Call(
        linkedid=linkedid,
        direction=direction,
        queue=queue,
        started_at=start,
        answered_at=answered,
        ended_at=start + timedelta(seconds=end_after) if end_after is not None else None,
        outcome=outcome,
        wait_seconds=wait,
        talk_seconds=talk,
        agent_id=agent,
    )


async def _calls(db: Database, a: dict[str, int]) -> None:
    ok, gone, timeout = CallOutcome.ANSWERED, CallOutcome.ABANDONED, CallOutcome.NO_ANSWER
    async with db.session() as session:
        session.add_all(
            [
                # answered after 5 s (the PBX's hold time), talked 60 s
                _call(
                    "c1",
                    local(9),
                    answer_after=5,
                    end_after=65,
                    outcome=ok,
                    wait=5,
                    talk=60,
                    agent=a["agent1"],
                ),
                # answered at exactly 15 s: still within the threshold
                _call(
                    "c2",
                    local(9, 5),
                    answer_after=15,
                    end_after=135,
                    outcome=ok,
                    wait=15,
                    talk=120,
                    agent=a["agent2"],
                ),
                # answered after 40 s; no hold time from the PBX: wait = answered - started
                _call(
                    "c3",
                    local(9, 10),
                    answer_after=40,
                    end_after=70,
                    outcome=ok,
                    talk=30,
                    agent=a["agent1"],
                ),
                # abandoned after 8 s (a short abandon), and after 30 s (no hold time given)
                _call("c4", local(9, 20), end_after=8, outcome=gone, wait=8),
                _call("c5", local(9, 30), end_after=30, outcome=gone),
                # the queue gave up after 60 s
                _call("c6", local(9, 40), end_after=60, outcome=timeout, wait=60),
                # the campaigns' queue: a customer-first callback answered after 10 s
                _call(
                    "c7",
                    local(9, 45),
                    queue="callbacks",
                    answer_after=10,
                    end_after=70,
                    outcome=ok,
                    wait=10,
                    talk=60,
                    agent=a["agent2"],
                    direction=Direction.OUTBOUND,
                ),
                # yesterday (local) at 23:50: not today's
                _call(
                    "c8",
                    local(23, 50, day=22),
                    answer_after=100,
                    end_after=200,
                    outcome=ok,
                    wait=100,
                    talk=100,
                    agent=a["agent1"],
                ),
                # still waiting: not offered yet
                _call("c9", local(9, 59, 40)),
                # a direct call to agent2's extension: no queue, but handled by agent2
                _call(
                    "c10",
                    local(9, 50),
                    queue=None,
                    answer_after=0,
                    end_after=120,
                    outcome=ok,
                    talk=120,
                    agent=a["agent2"],
                ),
                # answered 10 s after it started, still in conversation at 10:00
                _call("c11", local(9, 58), answer_after=10, wait=10, agent=a["agent1"]),
                # 08:15, abandoned after 3 s
                _call("c12", local(8, 15), end_after=3, outcome=gone, wait=3),
            ]
        )


async def _states(db: Database, a: dict[str, int]) -> None:
    def period(
        user: str, status: AgentStatus, start: datetime, end: datetime | None
    ) -> AgentStateLog:
        return AgentStateLog(user_id=a[user], status=status, started_at=start, ended_at=end)

    wrapup, ready, paused = AgentStatus.WRAPUP, AgentStatus.READY, AgentStatus.PAUSED
    async with db.session() as session:
        session.add_all(
            [
                period("agent1", ready, local(23, 30, day=22), local(9, 1, 5)),
                period("agent1", wrapup, local(9, 1, 5), local(9, 1, 35)),
                period("agent1", ready, local(9, 1, 35), local(9, 11, 10)),
                period("agent1", wrapup, local(9, 11, 10), local(9, 11, 40)),
                period("agent1", wrapup, local(9, 59, 50), None),  # still in it at 10:00
                period("agent2", wrapup, local(23, 59, 50, day=22), local(0, 0, 20)),
                period("agent2", paused, local(9, 30), local(9, 45)),
                period("agent2", wrapup, local(9, 46, 10), local(9, 46, 40)),
                period("agent3", ready, local(8, day=22), local(17, day=22)),  # yesterday only
                AgentState(
                    user_id=a["agent1"],
                    status=wrapup,
                    since=local(9, 59, 50),
                    wrapup_until=local(10, 0, 20),
                ),
                AgentState(user_id=a["agent2"], status=paused, reason="lunch", since=local(9, 55)),
            ]
        )


@pytest.fixture
async def day(db: Database) -> dict[str, int]:
    a = await _agents(db)
    await _calls(db, a)
    await _states(db, a)
    return a


async def test_queue_figures_of_a_known_day(
    db: Database, day: dict[str, int], clock: FixedClock
) -> None:
    async with db.session() as session:
        figures = await wallboard.day_figures(
            session,
            now=clock.now(),
            tz=TZ,
            threshold_seconds=T,
            queues=["service", "callbacks", "vip"],
        )
    assert figures.day == date(2026, 11, 23)
    assert figures.start == local(0)
    (service,) = (q for q in figures.queues if q.queue == "service")
    # offered: c1 c2 c3 c4 c5 c6 c11 c12 (c9 still waits, c8 was yesterday, c10 no queue)
    assert service.offered == 8
    assert service.answered == 4  # c1 c2 c3 c11 (c11 counts from the moment it was answered)
    assert service.abandoned == 3  # c4 c5 c12
    assert service.abandoned_within_threshold == 2  # c4 (8 s), c12 (3 s)
    assert service.timed_out == 1  # c6
    assert service.answered_within_threshold == 3  # c1 (5 s), c2 (15 s), c11 (10 s)
    assert service.service_level == 50.0  # 3 / (8 - 2)
    assert service.average_speed_of_answer == 17.5  # (5 + 15 + 40 + 10) / 4
    assert service.longest_wait == 60.0  # c6
    assert service.abandon_rate == 37.5  # 3 / 8
    (callback_queue,) = (q for q in figures.queues if q.queue == "callbacks")
    assert (
        callback_queue.offered,
        callback_queue.answered,
        callback_queue.service_level,
        callback_queue.average_speed_of_answer,
        callback_queue.abandon_rate,
    ) == (1, 1, 100.0, 10.0, 0.0)
    (vip,) = (q for q in figures.queues if q.queue == "vip")  # configured, no calls today
    assert (
        vip.offered,
        vip.service_level,
        vip.abandon_rate,
        vip.average_speed_of_answer,
        vip.longest_wait,
    ) == (0, None, None, None, None)
    hours = {h.hour: (h.answered, h.abandoned) for h in figures.hours if h.answered or h.abandoned}
    assert hours == {8: (0, 1), 9: (5, 2)}  # 9:00 — c1 c2 c3 c7 c11 answered, c4 c5 abandoned


async def test_agent_figures_of_a_known_day(
    db: Database, day: dict[str, int], clock: FixedClock
) -> None:
    async with db.session() as session:
        figures = await wallboard.day_figures(session, now=clock.now(), tz=TZ, threshold_seconds=T)
    a1, a2, a3 = day["agent1"], day["agent2"], day["agent3"]
    calls = figures.agent_calls
    assert (calls[a1].handled, calls[a1].talk_seconds) == (3, 200.0)  # c1 60 + c3 30 + c11 110
    assert (calls[a2].handled, calls[a2].talk_seconds) == (3, 300.0)  # c2 120 + c7 60 + c10 120
    assert a3 not in calls
    seconds = figures.state_seconds
    assert seconds[a1][AgentStatus.WRAPUP] == 70.0  # 30 + 30 + 10 (open since 09:59:50)
    # midnight to 09:01:05, then 09:01:35 to 09:11:10
    assert seconds[a1][AgentStatus.READY] == (9 * 3600 + 65) + 575
    assert seconds[a2][AgentStatus.WRAPUP] == 50.0  # 20 after midnight + 30
    assert seconds[a2][AgentStatus.PAUSED] == 900.0
    assert a3 not in seconds  # agent3 worked yesterday only
    rows = {r.user_id: r for r in figures.agents}
    assert set(rows) == {a1, a2, a3}  # agents only, the supervisor is not one
    assert (rows[a1].status, rows[a1].since) == (AgentStatus.WRAPUP, local(9, 59, 50))
    assert (rows[a2].status, rows[a2].reason) == (AgentStatus.PAUSED, "lunch")
    assert (rows[a3].status, rows[a3].since) == (AgentStatus.LOGGED_OUT, None)


async def test_live_view_of_a_call_replaces_its_stored_row(
    db: Database, day: dict[str, int], clock: FixedClock
) -> None:
    # The tracker saw c9 answered after 25 s before the call store wrote it.
    answered = CountedCall(
        linkedid="c9",
        started_at=local(9, 59, 40),
        queue="service",
        answered_at=local(10, 0, 5),
        wait_seconds=25.0,
        agent_id=day["agent3"],
    )
    yesterday = CountedCall(
        linkedid="old",
        started_at=local(22, day=22),
        queue="service",
        answered_at=local(22, 0, 1, day=22),
        wait_seconds=1.0,
    )
    async with db.session() as session:
        figures = await wallboard.day_figures(
            session, now=clock.now(), tz=TZ, threshold_seconds=T, live=[answered, yesterday]
        )
    (service,) = (q for q in figures.queues if q.queue == "service")
    assert (service.offered, service.answered, service.answered_within_threshold) == (9, 5, 3)
    assert service.service_level == round(100 * 3 / 7, 1)  # 3 / (9 - 2) = 42.9
    assert figures.agent_calls[day["agent3"]].handled == 1


def test_pure_edge_cases() -> None:
    start = local(9)
    # Only short abandons: nothing to measure the service level against.
    short = [
        CountedCall(
            f"s{i}",
            start,
            queue="q",
            ended_at=start + timedelta(seconds=4),
            outcome=CallOutcome.ABANDONED,
        )
        for i in range(2)
    ]
    (stats,) = queue_stats(short, threshold_seconds=T)
    assert (stats.offered, stats.abandoned, stats.service_level, stats.abandon_rate) == (
        2,
        2,
        None,
        100.0,
    )
    # An abandon at 16 s counts against it.
    late = CountedCall(
        "l", start, queue="q", ended_at=start + timedelta(seconds=16), outcome=CallOutcome.ABANDONED
    )
    (stats,) = queue_stats([*short, late], threshold_seconds=T)
    assert stats.service_level == 0.0 and stats.longest_wait == 16.0
    assert merge([late], [CountedCall("l", start, queue="q")])[0].outcome is None
    day, begin, end = local_day_window(datetime(2026, 11, 22, 16, 30, tzinfo=UTC), TZ)
    assert (day, begin, end) == (date(2026, 11, 23), local(0), local(0, day=24))
    clipped = time_in_states(
        [StatePeriod(1, AgentStatus.READY, local(9), local(8))], start=local(0), end=local(10)
    )
    assert clipped == {}


async def test_late_work(db: Database, clock: FixedClock) -> None:
    now = clock.now()
    today = date(2026, 11, 23)
    rules = ScheduleRules(window_days=3)
    async with db.session() as session:
        boss = await users.create(
            session,
            username="supervisor",
            password="password-1",
            display_name="组长",
            role=Role.SUPERVISOR,
        )
        wang = await customers.create(session, name="王建国", phones=["13800138000"])
        li = await customers.create(session, name="李娜", phones=["13900139000"])
        # Started ten days ago: the start callback's window closed 7 days ago, never reached.
        late = await projects.create(
            session,
            customer=wang,
            contract_number="XA-1",
            rules=rules,
            start_date=today - timedelta(days=10),
        )
        # Same dates, but the start callback was effective: compliant.
        done = await projects.create(
            session,
            customer=li,
            contract_number="XA-2",
            rules=rules,
            start_date=today - timedelta(days=10),
        )
        task = (await callbacks.get_for_project(session, done.id))[0]
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            outcome=Outcome.EFFECTIVE,
            at=now - timedelta(days=8),
            agent_id=boss.id,
            satisfaction={"quality": Satisfaction.SATISFIED},
        )
        # Starts in five days: nothing owed yet. Its start callback is the campaign's.
        future = await projects.create(
            session,
            customer=li,
            contract_number="XA-3",
            rules=rules,
            start_date=today + timedelta(days=5),
        )
        future_task = (await callbacks.get_for_project(session, future.id))[0]
        running = Campaign(
            name="完工回访", owner_id=boss.id, status=CampaignStatus.RUNNING, started_at=local(8)
        )
        paused = Campaign(name="暂停的", owner_id=boss.id, status=CampaignStatus.PAUSED)
        session.add_all([running, paused])
        await session.flush()
        for outcome, at in (
            (Outcome.EFFECTIVE, local(9)),
            (Outcome.NO_ANSWER, local(9, 30)),
            (Outcome.EFFECTIVE, local(18, day=22)),
        ):  # the last: yesterday
            session.add(
                CallbackAttempt(
                    task_id=future_task.id,
                    made_by=MadeBy.CAMPAIGN,
                    campaign_id=running.id,
                    started_at=at,
                    outcome=outcome,
                )
            )
        session.add(
            CallbackAttempt(
                task_id=future_task.id,
                made_by=MadeBy.CAMPAIGN,
                campaign_id=running.id,
                started_at=local(9, 50),
            )
        )  # dialing

        def complaint(
            due: timedelta,
            status: ComplaintStatus = ComplaintStatus.OPEN,
            department: str = "工程部",
            *,
            clocks_from: timedelta = timedelta(hours=5),
        ) -> Complaint:
            return Complaint(
                customer_id=wang.id,
                source=ComplaintSource.API,
                department=department,
                category="质量",
                description="墙面开裂",
                grade=ComplaintGrade.GENERAL,
                status=status,
                received_at=now - timedelta(hours=5),
                clocks_from=now - clocks_from,
                next_due_at=now + due,
            )

        # Due soon: in the last fifth (due_soon_fraction) of the time the clocks gave.
        session.add_all(
            [
                complaint(-timedelta(hours=1)),  # overdue
                complaint(-timedelta(minutes=5), ComplaintStatus.RESOLVED, "设计部"),  # overdue
                complaint(timedelta(hours=1)),  # 1 h left of 6 h: due soon (the last 1.2 h)
                complaint(timedelta(hours=5)),  # 5 h left of 10 h: not yet
                # 30 min left of 90 (reopened an hour ago): the last fifth is 18 min, not yet
                complaint(timedelta(minutes=30), clocks_from=timedelta(hours=1)),
                complaint(-timedelta(hours=3), ComplaintStatus.CLOSED),  # closed: nothing owed
            ]
        )

        def repair(
            due: timedelta, *, arrived: bool = False, status: RepairStatus = RepairStatus.ASSIGNED
        ) -> Repair:
            return Repair(
                customer_id=li.id,
                description="水管漏水",
                crew="维修一队",
                status=status,
                reported_at=now - timedelta(hours=9),
                arrival_due_at=now + due,
                arrived_at=now - timedelta(hours=2) if arrived else None,
            )

        session.add_all(
            [
                repair(-timedelta(minutes=30)),  # crew late
                repair(-timedelta(hours=1), arrived=True, status=RepairStatus.ON_SITE),
                repair(-timedelta(hours=1), status=RepairStatus.CLOSED),
                repair(timedelta(hours=3)),
            ]
        )
        late_id = late.id

    async with db.session() as session:
        work = await wallboard.late_work(session, now=now, tz=TZ, due_soon_fraction=0.2)
    (campaign,) = work.campaigns
    # Today: 09:00 effective, 09:30 no answer, 09:50 still dialing; yesterday's not counted.
    assert (campaign.name, campaign.attempts_today, campaign.effective_today) == ("完工回访", 3, 1)
    assert (work.complaints_overdue, work.complaints_due_soon) == (2, 1)
    assert [(c.department, c.overdue) for c in work.complaints] == [
        ("工程部", True),
        ("设计部", True),
        ("工程部", False),
    ]
    assert work.repairs_overdue == 1 and work.repairs[0].crew == "维修一队"
    assert work.projects_missing_callbacks == 1
    (missing,) = work.projects
    assert (
        missing.project_id,
        missing.contract_number,
        missing.customer,
        [s.value for s in missing.stages],
    ) == (late_id, "XA-1", "王建国", ["start"])
