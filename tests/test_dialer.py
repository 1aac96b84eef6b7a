"""The campaign dialer against the PBX simulator, with a clock the tests move: ordering,
retries and limits, calling hours and holidays, do-not-call, pacing, the call-start rate,
racing dialers on one PostgreSQL, and a PBX that drops mid-campaign."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.callbacks import service as callbacks
from crm.callbacks.models import (
    CallbackAttempt,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.callbacks.schedule import ScheduleRules
from crm.campaigns import service as campaigns
from crm.campaigns.models import DialMode
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import Role
from telephony.dialer import Dialer
from telephony.events import CallEnded
from tests.support.agents import add_agent
from tests.support.clock import RealPace
from tests.support.pbx_rig import PbxRig, pbx_rig
from tests.support.waiting import until

TODAY = date(2026, 11, 23)  # the conftest clock: Monday 10:00 in Shanghai
BUSY, SILENT = "13700000001", "13600000001"
# The full PBX rig runs on SQLite; the selection query and the dialer race also on PostgreSQL.


@pytest.fixture
async def rig(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[PbxRig]:
    # A generous call-start rate: only the pacing test is about the rate.
    async with pbx_rig(
        db,
        tmp_path,
        clock,
        dialer_calls_per_second=50.0,
        sim={"busy_numbers": ["1370*"], "no_answer_numbers": ["1360*"]},
    ) as running:
        yield running


async def task_for(
    db: Database,
    name: str,
    phone: str,
    *,
    grade: Grade = Grade.B,
    midterm: date = TODAY,
    **customer: Any,
) -> int:
    async with db.session() as session:
        owner = await customers.create(session, name=name, phones=[phone], grade=grade, **customer)
        project = await projects.create(
            session,
            customer=owner,
            contract_number=f"C-{phone}",
            rules=ScheduleRules(window_days=3, post_completion_months=0),
            status=ProjectStatus.IN_PROGRESS,
            start_date=midterm - timedelta(days=40),
            concealed_works_date=midterm - timedelta(days=20),
            midterm_date=midterm,
        )
        tasks = await callbacks.get_for_project(session, project.id)
        return next(t.id for t in tasks if t.stage is Stage.MIDTERM)


async def ready_agent(db: Database, clock: FixedClock, extension: str) -> int:
    async with db.session() as session:
        return await add_agent(session, extension, ready_at=clock.now())


async def campaign(db: Database, clock: FixedClock, **fields: Any) -> int:
    async with db.session() as session:
        owner = await users.get_by_username(session, "supervisor") or await users.create(
            session,
            username="supervisor",
            password="password1",
            display_name="组长",
            role=Role.SUPERVISOR,
        )
        created = await campaigns.create(
            session, owner_id=owner.id, name="中期回访", stages=["midterm"], **fields
        )
        await campaigns.transition(session, created, "start", at=clock.now())
        return created.id


def dialer_for(
    rig: PbxRig, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> tuple[Dialer, list[tuple[float, str]]]:
    """A dialer on the rig's bridge, and when (and to whom) each of its calls was started."""
    # The test's hour; the start rate is measured at the real pace the simulated PBX keeps.
    dialer = Dialer(rig.settings, rig.database, rig.bridge, clock=RealPace(clock))
    started: list[tuple[float, str]] = []
    original = rig.bridge.originate

    async def originate(**kwargs: Any) -> str:
        started.append((time.monotonic(), kwargs["dialed"]))
        return await original(**kwargs)

    monkeypatch.setattr(rig.bridge, "originate", originate)
    return dialer, started


async def attempts_of(db: Database, task_id: int) -> list[CallbackAttempt]:
    async with db.session() as session:
        return list(
            await session.scalars(
                select(CallbackAttempt)
                .where(CallbackAttempt.task_id == task_id)
                .order_by(CallbackAttempt.id)
            )
        )


async def finish_open_attempts(
    db: Database, clock: FixedClock, outcome: Outcome, **extra: Any
) -> None:
    """What the agent's form does after an answered campaign call."""
    async with db.session() as session:
        for attempt in await campaigns.in_flight(session):
            await campaigns.complete_attempt(
                session, attempt=attempt, outcome=outcome, at=clock.now(), **extra
            )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ready_agents_get_calls_overdue_first_then_by_grade(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    due_b = await task_for(db, "乙", "13800000002", grade=Grade.B)
    overdue_c = await task_for(
        db, "丙", "13800000003", grade=Grade.C, midterm=TODAY - timedelta(days=10)
    )
    due_a = await task_for(db, "甲", "13800000001", grade=Grade.A)
    agent = await ready_agent(db, clock, "1001")
    await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    order = []
    for _ in range(3):
        await dialer.tick()
        await rig.settle()
        await dialer.tick()  # the agent is on the campaign's call: nothing more is dialed
        async with db.session() as session:
            [attempt] = await campaigns.in_flight(session)
        assert attempt.agent_id == agent and attempt.call_id is not None
        order.append(attempt.task_id)
        await finish_open_attempts(
            db, clock, Outcome.EFFECTIVE, satisfaction={"quality": Satisfaction.SATISFIED}
        )
    assert order == [overdue_c, due_a, due_b]
    assert [number for _, number in started] == ["13800000003", "13800000001", "13800000002"]
    pops = [e for e in rig.events if type(e).__name__ == "AgentRinging"]
    assert [p.attempt_id is not None and p.caller for p in pops] == [
        "13800000003",
        "13800000001",
        "13800000002",
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_busy_retries_every_ten_minutes_within_the_daily_and_total_limits(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await task_for(db, "忙", BUSY)
    await ready_agent(db, clock, "1001")
    await campaign(db, clock, max_attempts_per_day=3, max_attempts_total=4)
    dialer, started = dialer_for(rig, clock, monkeypatch)

    async def round_() -> None:
        await dialer.tick()
        await rig.settle()

    await round_()
    [first] = await attempts_of(db, task_id)
    assert first.outcome is Outcome.BUSY
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
    assert task.status is TaskStatus.PENDING and task.not_before == clock.now() + timedelta(
        minutes=10
    )
    clock.advance(minutes=9)
    await round_()
    assert len(started) == 1  # resting
    for _ in range(2):
        clock.advance(minutes=10)
        await round_()
    assert len(started) == 3
    clock.advance(minutes=30)
    await round_()
    assert len(started) == 3  # three a day
    clock.set(datetime(2026, 11, 24, 1, 30, tzinfo=UTC))  # 09:30 the next day
    await round_()
    assert len(started) == 4
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
    assert task.status is TaskStatus.UNREACHABLE and task.attempt_count == 4
    clock.advance(hours=5)
    await round_()
    assert len(started) == 4  # left to a supervisor


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_answer_waits_two_hours(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # 09:00, so 11:00 is before lunch
    task_id = await task_for(db, "无人", SILENT)
    await ready_agent(db, clock, "1001")
    await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    await dialer.tick()
    await rig.settle()
    [attempt] = await attempts_of(db, task_id)
    assert attempt.outcome is Outcome.NO_ANSWER
    clock.advance(minutes=119)
    await dialer.tick()
    assert len(started) == 1
    clock.advance(minutes=1)
    await dialer.tick()
    await rig.settle()
    assert len(started) == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("local", "dials"),
    [
        ((2026, 11, 23, 12, 30), False),
        ((2026, 11, 23, 14, 0), True),
        ((2026, 11, 23, 20, 0), False),
        ((2026, 10, 1, 10, 0), False),  # 国庆节
        ((2026, 11, 22, 10, 0), True),  # a Sunday
    ],
)
async def test_calling_hours_and_holidays(
    rig: PbxRig,
    db: Database,
    clock: FixedClock,
    local: tuple[int, int, int, int, int],
    dials: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoneinfo import ZoneInfo

    clock.set(datetime(*local, tzinfo=ZoneInfo("Asia/Shanghai")))
    await task_for(db, "李", "13800000001", midterm=clock.now().date())
    await ready_agent(db, clock, "1001")
    await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    await dialer.tick()
    assert bool(started) is dials
    await rig.settle()


async def test_never_dialed_do_not_call_cancelled_satisfied_or_resting(
    rig: PbxRig, db: Database, clock: FixedClock
) -> None:
    await task_for(
        db, "勿扰", "13800000001", do_not_call=True, do_not_call_reason="客户要求不再回访"
    )
    cancelled = await task_for(db, "取消", "13800000002")
    satisfied = await task_for(db, "满意", "13800000003")
    rested = await task_for(db, "刚打过", "13800000004")
    eligible = await task_for(db, "正常", "13800000005")
    agent = await ready_agent(db, clock, "1001")
    async with db.session() as session:
        project = (await callbacks.get_or_raise(session, cancelled)).project_id
        await projects.cancel(
            session, await projects.get_or_raise(session, project), rules=ScheduleRules()
        )
        task = await callbacks.get_or_raise(session, satisfied)
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=agent,
            outcome=Outcome.EFFECTIVE,
            at=clock.now() - timedelta(days=1),
            satisfaction={"quality": Satisfaction.SATISFIED},
        )
        # An agent called 13800000004 two minutes ago: the number rests for 5 minutes.
        task = await callbacks.get_or_raise(session, rested)
        recent = await callbacks.start_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=agent,
            dialed_number="13800000004",
            at=clock.now() - timedelta(minutes=2),
        )
        await callbacks.complete_attempt(
            session,
            attempt=recent,
            outcome=Outcome.CALL_LATER,
            at=clock.now() - timedelta(minutes=2),
            call_back_at=clock.now() - timedelta(minutes=1),
        )
    campaign_id = await campaign(db, clock)
    async with db.session() as session:
        chosen = await campaigns.next_tasks(
            session,
            await campaigns.get_or_raise(session, campaign_id),
            settings=rig.settings,
            now=clock.now(),
            limit=10,
        )
    assert [c.task_id for c in chosen] == [eligible]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_unsatisfied_callback_leaves_the_task_open_but_not_redialed(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = await task_for(db, "不满意", "13800000001")
    await ready_agent(db, clock, "1001")
    campaign_id = await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    await dialer.tick()
    await rig.settle()
    await finish_open_attempts(
        db,
        clock,
        Outcome.EFFECTIVE,
        satisfaction={"quality": Satisfaction.UNSATISFIED},
        notes="墙面开裂",
    )
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
        assert task.effective and task.status is TaskStatus.PENDING  # open for the follow-up
        progress = await campaigns.progress(
            session,
            await campaigns.get_or_raise(session, campaign_id),
            settings=rig.settings,
            now=clock.now(),
        )
    [midterm] = progress
    assert (midterm.effective, midterm.unsatisfied, midterm.satisfied) == (1, 1, 0)
    clock.advance(hours=3)
    await dialer.tick()
    assert len(started) == 1  # the follow-up comes from the department's ticket, not redial


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_customer_first_never_exceeds_ready_agents_or_the_start_rate(
    db: Database, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pbx_rig(
        db,
        tmp_path,
        clock,
        dialer_calls_per_second=2.0,
        sim={"talk_seconds": (30, 30), "customer_answer_delay": 2.0, "default_answer_delay": 1.0},
    ) as rig:
        for i in range(8):
            await task_for(db, f"客户{i}", f"1380000{1000 + i}")
        for extension in ("1001", "1002"):
            await rig.bridge.queue_add(
                queue="callbacks", interface=f"PJSIP/{extension}", member_name=extension
            )
        await campaign(db, clock, mode=DialMode.CUSTOMER_FIRST, max_concurrent=10, pacing_ratio=1.0)
        dialer, started = dialer_for(rig, clock, monkeypatch)
        peak = 0
        deadline = time.monotonic() + 20
        while len(started) < 8 and time.monotonic() < deadline:
            await dialer.tick()
            async with db.session() as session:
                flying = len(await campaigns.in_flight(session))
            peak = max(peak, flying)
            assert flying <= 2, "more calls in progress than ready agents"
            await asyncio.sleep(0.1)
            await finish_open_attempts_of_ended_calls(rig, db, clock)
        assert len(started) == 8 and peak == 2
        starts = [t for t, _ in started]
        for i in range(len(starts)):
            assert sum(1 for t in starts if starts[i] <= t < starts[i] + 1.0) <= 2
        await rig.settle()


async def finish_open_attempts_of_ended_calls(rig: PbxRig, db: Database, clock: FixedClock) -> None:
    """Agents log each answered call once it has ended (the form after the call)."""
    live = {c.attempt_id for c in rig.bridge.tracker.live_calls()}
    async with db.session() as session:
        for attempt in await campaigns.in_flight(session):
            if attempt.call_id is not None and attempt.id not in live:
                await campaigns.complete_attempt(
                    session,
                    attempt=attempt,
                    outcome=Outcome.EFFECTIVE,
                    at=clock.now(),
                    satisfaction={"quality": Satisfaction.SATISFIED},
                )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_pbx_drop_mid_campaign_loses_and_repeats_nothing(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered = await task_for(db, "通话中", "13800000001")
    await ready_agent(db, clock, "1001")
    await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    await dialer.tick()
    await until(lambda: any(type(e).__name__ == "CallAnswered" for e in rig.events))
    rig.sim.drop_connections()  # mid-call
    await until(lambda: rig.bridge.client.connections >= 2)
    await until(lambda: rig.bridge.settled, timeout=10)
    clock.advance(minutes=5)
    await dialer.tick()  # the attempt's call is live: it is neither failed nor redialed
    assert len(started) == 1
    await rig.settle()
    [attempt] = await attempts_of(db, answered)
    assert attempt.call_id is not None and attempt.outcome is None  # for the agent's form

    # An attempt whose originate never reached the PBX is failed and retried, once.
    lost = await task_for(db, "失联", "13800000002")
    await finish_open_attempts(
        db, clock, Outcome.EFFECTIVE, satisfaction={"quality": Satisfaction.SATISFIED}
    )
    rig.sim.set_silent(True)
    await dialer.tick()  # the PBX accepts nothing now
    await until(lambda: not rig.bridge.client.connected, timeout=10)
    rig.sim.set_silent(False)
    await until(lambda: rig.bridge.settled, timeout=15)
    clock.advance(minutes=2)
    await dialer.tick()
    attempts = await attempts_of(db, lost)
    assert [a.outcome for a in attempts] in ([Outcome.FAILED], [None])
    if attempts[0].outcome is Outcome.FAILED:
        async with db.session() as session:
            task = await callbacks.get_or_raise(session, lost)
        assert task.status is TaskStatus.PENDING and task.not_before is not None
    await rig.settle()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_call_that_ended_before_the_bridge_stored_it_is_not_failed_nor_redialed(
    rig: PbxRig, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy day the bridge process may store a call minutes after it ended (issue 19's
    busy-day benchmark: 5 minutes behind). The dialer saw the call end: its attempt waits
    for the agent's form instead of being failed, which would reject the form and dial the
    customer again."""
    task = await task_for(db, "回访", "13800000003")
    await ready_agent(db, clock, "1001")
    await campaign(db, clock)
    dialer, started = dialer_for(rig, clock, monkeypatch)
    await dialer.tick()
    await until(lambda: any(isinstance(e, CallEnded) for e in rig.events), timeout=30)
    await rig.settle()
    [attempt] = await attempts_of(db, task)
    async with db.session() as session:  # the store behind: the call not yet on the attempt
        stored = await session.get(CallbackAttempt, attempt.id)
        assert stored is not None
        stored.call_id = None
    clock.advance(minutes=5)
    assert await dialer.fail_lost_attempts(clock.now()) == 0
    await dialer.tick()
    [attempt] = await attempts_of(db, task)
    assert attempt.outcome is None  # for the agent's form
    assert len(started) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_dialers_on_one_postgresql_never_double_dial(
    db: Database, tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pbx_rig(
        db, tmp_path, clock, dialer_calls_per_second=100.0, sim={"talk_seconds": (5, 5)}
    ) as rig:
        tasks = [await task_for(db, f"客户{i}", f"1380000{2000 + i}") for i in range(6)]
        for extension in ("1001", "1002", "1003", "1004", "1005", "1006"):
            await ready_agent(db, clock, extension)
        await campaign(db, clock, max_concurrent=6)
        first, started = dialer_for(rig, clock, monkeypatch)
        second = Dialer(rig.settings, db, rig.bridge, clock=RealPace(clock))
        second.rate = first.rate.__class__(100.0)
        # Both dial at once, bypassing the lock, as if two processes raced.
        await asyncio.gather(*(d.tick() for d in (first, second) for _ in range(3)))
        await rig.settle()
        for task_id in tasks:
            assert len(await attempts_of(db, task_id)) <= 1
        assert len(started) == len({number for _, number in started}) == 6
        # And with the lock, only one of two running dialers is active.
        runs = [asyncio.create_task(d.run()) for d in (first, second)]
        await until(lambda: first.active or second.active)
        await asyncio.sleep(0.5)
        assert [first.active, second.active].count(True) == 1
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)


async def test_a_customer_with_more_due_tasks_than_a_batch_does_not_hide_the_next_one(
    db: Database, clock: FixedClock, settings: Settings
) -> None:
    """next_tasks reads each slice in batches a little larger than what is missing: when
    one customer's tasks fill a whole batch (one call per customer drops all but one), the
    slice is read on and the next customer is still found, in dialing order."""
    first = await task_for(db, "多个工地", "13800000011")
    async with db.session() as session:
        owner = (await customers.find_by_phone(session, "13800000011"))[0]
        for n in range(14):  # more than the first batch of 2 * 3 // 2 + 10 = 13 rows
            await projects.create(
                session,
                customer=await customers.get_or_raise(session, owner.id),
                contract_number=f"C-more-{n}",
                rules=ScheduleRules(window_days=3, post_completion_months=0),
                status=ProjectStatus.IN_PROGRESS,
                start_date=TODAY - timedelta(days=40),
                concealed_works_date=TODAY - timedelta(days=20),
                midterm_date=TODAY,
            )
    later = await task_for(db, "下一位", "13800000012")
    campaign_id = await campaign(db, clock)
    async with db.session() as session:
        chosen = await campaigns.next_tasks(
            session,
            await campaigns.get_or_raise(session, campaign_id),
            settings=settings,
            now=clock.now(),
            limit=2,
        )
    assert [(c.task_id, c.number) for c in chosen] == [
        (first, "13800000011"),
        (later, "13800000012"),
    ]
