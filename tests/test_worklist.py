"""An agent's worklist (the callbacks due today and overdue they should make: their promises
and the shared pool, by deadline), the reminders of promised call backs (claimed once in the
database, so a restart neither loses nor repeats one), and today's figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.callbacks import service as callbacks
from crm.callbacks import worklist
from crm.callbacks.models import MadeBy, Outcome, Satisfaction
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import Role
from tests.support.api import Api, running_app
from web.callback_reminders import CallbackReminders

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # the clock fixture: Monday 10:00 in Shanghai
TODAY = date(2026, 11, 23)
TZ = ZoneInfo("Asia/Shanghai")


def local(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """An instant at this Shanghai hour, today (or `days` later)."""
    return datetime(2026, 11, 23, hour - 8, minute, tzinfo=UTC) + timedelta(days=days)


@dataclass(frozen=True)
class Floor:
    agent1: int
    agent2: int
    tasks: dict[str, int]  # project name → its start callback


async def _agent(db: Database, username: str, extension: str) -> int:
    async with db.session() as session:
        existing = await users.get_by_username(session, username)
        user = existing or await users.create(
            session,
            username=username,
            password="password-1",
            display_name=username,
            role=Role.AGENT,
            extension=extension,
        )
        return user.id


async def _project(db: Database, name: str, start: date, grade: Grade = Grade.B) -> int:
    """A project whose start callback is due on `start` (three days to make it)."""
    async with db.session() as session:
        customer = await customers.create(
            session,
            name=name,
            phones=[f"1380013{len(name) * 1000 + start.day:04d}"],
            grade=grade,
            default_area_code="029",
        )
        project = await projects.create(
            session,
            customer=customer,
            contract_number=f"XA-{name}",
            rules=ScheduleRules(window_days=3, post_completion_months=1),
            status=ProjectStatus.IN_PROGRESS,
            start_date=start,
        )
        [task] = await callbacks.get_for_project(session, project.id)
        return task.id


async def _promise(db: Database, task_id: int, agent_id: int, at: datetime, when: datetime) -> int:
    """The agent reached the customer, who asked to be called back at `when`."""
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
        attempt = await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=agent_id,
            outcome=Outcome.CALL_LATER,
            at=at,
            call_back_at=when,
        )
        return attempt.id


async def _dialing(db: Database, task_id: int, agent_id: int, since: datetime) -> None:
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
        await callbacks.start_attempt(
            session, task=task, made_by=MadeBy.AGENT, agent_id=agent_id, at=since
        )


async def _floor(db: Database) -> Floor:
    agent1 = await _agent(db, "agent1", "1001")
    agent2 = await _agent(db, "agent2", "1002")
    tasks = {
        "overdue": await _project(db, "王建国", TODAY - timedelta(days=10), Grade.A),
        "stale": await _project(db, "赵磊", TODAY - timedelta(days=6)),
        "mine": await _project(db, "钱芳", TODAY - timedelta(days=5)),
        "theirs": await _project(db, "孙丽", TODAY - timedelta(days=4)),
        "dialing": await _project(db, "周强", TODAY - timedelta(days=3)),
        "tomorrow": await _project(db, "吴敏", TODAY - timedelta(days=2)),
        "due": await _project(db, "李秀英", TODAY - timedelta(days=1)),
        "today": await _project(db, "张伟", TODAY, Grade.C),
        "later": await _project(db, "郑洁", TODAY + timedelta(days=2)),
    }
    yesterday = NOW - timedelta(days=1)
    await _promise(db, tasks["mine"], agent1, yesterday, local(14))
    await _promise(db, tasks["theirs"], agent2, yesterday, local(15))
    await _promise(db, tasks["tomorrow"], agent1, yesterday, local(10, days=1))
    await _dialing(db, tasks["dialing"], agent2, NOW - timedelta(minutes=5))
    await _dialing(db, tasks["stale"], agent1, NOW - timedelta(hours=2))  # never logged
    return Floor(agent1, agent2, tasks)


async def test_the_worklist_holds_the_pool_and_the_agents_promises_by_deadline(
    db: Database,
) -> None:
    floor = await _floor(db)
    names = {task_id: name for name, task_id in floor.tasks.items()}
    async with db.session() as session:
        mine = await worklist.worklist(session, agent_id=floor.agent1, now=NOW, tz=TZ)
        theirs = await worklist.worklist(session, agent_id=floor.agent2, now=NOW, tz=TZ)
    assert [names[i.task_id] for i in mine] == ["overdue", "stale", "mine", "due", "today"]
    assert [names[i.task_id] for i in theirs] == ["overdue", "stale", "theirs", "due", "today"]
    by_name = {names[i.task_id]: i for i in mine}
    assert [n for n, i in by_name.items() if i.overdue] == ["overdue", "stale", "mine"]
    assert by_name["mine"].mine and by_name["mine"].promised_at == local(14)
    assert not by_name["due"].mine and by_name["due"].promised_at is None
    assert by_name["overdue"].customer_name == "王建国" and by_name["overdue"].grade is Grade.A
    assert by_name["overdue"].phone is not None and by_name["overdue"].phone.number.startswith(
        "138"
    )
    assert by_name["overdue"].latest_date == TODAY - timedelta(days=7)

    # Made and effective: the callback leaves the worklist.
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, floor.tasks["overdue"])
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=floor.agent1,
            outcome=Outcome.EFFECTIVE,
            at=NOW,
            satisfaction={"quality": Satisfaction.SATISFIED},
        )
        after = await worklist.worklist(session, agent_id=floor.agent1, now=NOW, tz=TZ)
    assert floor.tasks["overdue"] not in [i.task_id for i in after]


async def test_a_promised_call_back_is_reminded_once_at_its_time(db: Database) -> None:
    floor = await _floor(db)

    async def claim(at: datetime) -> list[tuple[int, int]]:
        async with db.session() as session:
            found = await worklist.claim_reminders(session, now=at)
        return [(r.agent_id, r.task_id) for r in found]

    assert await claim(NOW) == []  # 10:00: nothing promised yet
    assert await claim(local(14, 0)) == [(floor.agent1, floor.tasks["mine"])]
    assert await claim(local(14, 1)) == []  # once
    # The server was down from 14:30 to 16:00: the 15:00 promise is reminded when it is back.
    assert await claim(local(16)) == [(floor.agent2, floor.tasks["theirs"])]
    assert await claim(local(10, 5, days=1)) == [(floor.agent1, floor.tasks["tomorrow"])]


async def test_no_reminder_once_the_call_back_was_made_or_is_long_past(db: Database) -> None:
    floor = await _floor(db)
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, floor.tasks["mine"])
        await callbacks.log_attempt(  # called back early: the promise is kept
            session,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=floor.agent1,
            outcome=Outcome.NO_ANSWER,
            at=local(13),
        )
        assert [r.task_id for r in await worklist.claim_reminders(session, now=local(15))] == [
            floor.tasks["theirs"]
        ]
        # A promise older than the horizon (old data, a long outage) is not reminded.
        assert await worklist.claim_reminders(session, now=local(11, days=3)) == []


# -- through the API and the websocket -----------------------------------------------------------


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


async def test_agents_read_their_own_worklist_and_are_reminded_over_the_websocket(
    api: Api, db: Database, clock: FixedClock
) -> None:
    floor = await _floor(db)
    response = await api["agent1"].get("/api/agent/worklist")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [i["task_id"] for i in listed][:3] == [
        floor.tasks["overdue"],
        floor.tasks["stale"],
        floor.tasks["mine"],
    ]
    assert listed[2]["mine"] is True and listed[2]["stage"] == "start"
    assert listed[0]["phone"]["display"]
    assert (await api["supervisor"].get("/api/agent/worklist")).status_code == 403
    assert (await api["agent1"].get("/api/agent/worklist?limit=0")).status_code == 422

    svc = api.app.state.services
    clock.set(local(14) + timedelta(seconds=30))
    await CallbackReminders(svc).check()
    await CallbackReminders(svc).check()  # another process, or after a restart: nothing twice
    reminders = [
        d.message
        for d in svc.outbox.since(floor.agent1, 0)
        if d.message["type"] == "callback_reminder"
    ]
    assert len(reminders) == 1
    [reminder] = reminders
    assert reminder["task_id"] == floor.tasks["mine"] and reminder["customer_name"] == "钱芳"
    assert reminder["call_back_at"] == local(14).isoformat()
    assert not [
        d for d in svc.outbox.since(floor.agent2, 0) if d.message["type"] == "callback_reminder"
    ]


async def test_todays_figures_count_the_agents_calls_and_callbacks(
    api: Api, db: Database, clock: FixedClock
) -> None:
    agent = api.ids["agent1"]
    async with db.session() as session:
        for n, talk in enumerate((60.0, 90.0)):
            session.add(
                Call(
                    linkedid=f"today.{n}",
                    direction=Direction.INBOUND,
                    started_at=NOW - timedelta(minutes=30 - n * 10),
                    answered_at=NOW - timedelta(minutes=29 - n * 10),
                    ended_at=NOW - timedelta(minutes=27 - n * 10),
                    outcome=CallOutcome.ANSWERED,
                    talk_seconds=talk,
                    agent_id=agent,
                )
            )
        session.add(
            Call(
                linkedid="yesterday",
                direction=Direction.INBOUND,
                started_at=NOW - timedelta(days=1),
                answered_at=NOW - timedelta(days=1),
                ended_at=NOW - timedelta(days=1),
                outcome=CallOutcome.ANSWERED,
                talk_seconds=500.0,
                agent_id=agent,
            )
        )
    task_id = await _project(db, "王建国", TODAY - timedelta(days=1))
    async with db.session() as session:
        task = await callbacks.get_or_raise(session, task_id)
        for outcome in (Outcome.NO_ANSWER, Outcome.EFFECTIVE):
            await callbacks.log_attempt(
                session,
                task=task,
                made_by=MadeBy.AGENT,
                agent_id=agent,
                outcome=outcome,
                at=clock.now(),
                satisfaction={"crew": Satisfaction.SATISFIED}
                if outcome is Outcome.EFFECTIVE
                else None,
            )
    [first] = [
        c for c in (await api["agent1"].get("/api/calls/mine")).json() if c["linkedid"] == "today.0"
    ]
    assert (
        await api["agent1"].put(f"/api/calls/{first['id']}/disposition", json={"code": "other"})
    ).status_code == 200
    today = (await api["agent1"].get("/api/agent/today")).json()
    assert today == {
        "day": "2026-11-23",
        "calls_handled": 2,
        "talk_seconds": 150.0,
        "callbacks_made": 2,
        "callbacks_effective": 1,
        "calls_coded": 1,
    }
    assert (await api["agent2"].get("/api/agent/today")).json()["calls_handled"] == 0
    assert (await api["qa"].get("/api/agent/today")).status_code == 403
