"""The wallboard's alert thresholds (issue 17): the pure evaluation of one snapshot's figures,
when a running clock next reaches a level, which alerts are new crossings; the defaults from
the settings; and the live feed pushing each crossing once to the supervisors watching."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm.agents import service as agent_states
from crm.agents.models import AgentStatus
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings, load_settings
from crm.wallboard.thresholds import (
    AgentNow,
    Alert,
    Level,
    Limit,
    Measure,
    QueueNow,
    Thresholds,
    crossings,
    evaluate,
    levels,
    next_change,
)
from tests.support.api import Api, running_app
from web.wallboard_feed import WallboardFeed

MESSAGE, ALERT_MESSAGE = "wallboard", "wallboard_alert"  # the websocket messages' types
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
LIMITS = Thresholds(
    callers_waiting=Limit(2, 5),
    longest_wait_seconds=Limit(10, 15),
    abandon_rate=Limit(5, 10),
    abandon_min_offered=5,
    paused_minutes=Limit(15, 30),
    paused_minutes_by_reason={"lunch": Limit(60, 75)},
)


def queue(
    waiting: int = 0, waited: float | None = None, offered: int = 0, rate: float | None = None
) -> QueueNow:
    since = NOW - timedelta(seconds=waited) if waited is not None else None
    return QueueNow("service", waiting, since, offered, rate)


def paused(minutes: float, reason: str = "break", status: str = "paused") -> AgentNow:
    return AgentNow(7, "王丽", status, reason, NOW - timedelta(minutes=minutes))


def seen(alerts: list[Alert]) -> list[tuple[str, str, float, float]]:
    return [(a.measure.value, a.level.value, a.value, a.limit) for a in alerts]


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (queue(waiting=1, waited=3), []),
        (queue(waiting=2, waited=3), [("callers_waiting", "warn", 2, 2)]),
        (queue(waiting=6, waited=3), [("callers_waiting", "alert", 6, 5)]),
        (queue(waiting=1, waited=9.9), []),
        (queue(waiting=1, waited=10), [("longest_wait", "warn", 10, 10)]),
        (queue(waiting=1, waited=15), [("longest_wait", "alert", 15, 15)]),
        (queue(waiting=0, waited=40), []),  # nobody waits any more
        (queue(offered=4, rate=50.0), []),  # too few calls yet for a rate
        (queue(offered=5, rate=4.9), []),
        (queue(offered=5, rate=6.0), [("abandon_rate", "warn", 6.0, 5)]),
        (queue(offered=20, rate=10.0), [("abandon_rate", "alert", 10.0, 10)]),
    ],
)
def test_queue_figures(figures: QueueNow, expected: list[tuple[str, str, float, float]]) -> None:
    alerts = evaluate([figures], [], LIMITS, NOW)
    assert seen(alerts) == expected
    assert all(a.queue == "service" and a.key == f"{a.measure.value}:service" for a in alerts)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (paused(14.9), []),
        (paused(15), [("paused_too_long", "warn", 15.0, 15)]),
        (paused(31), [("paused_too_long", "alert", 31.0, 30)]),
        (paused(40, "lunch"), []),  # lunch is allowed longer
        (paused(61, "lunch"), [("paused_too_long", "warn", 61.0, 60)]),
        (paused(90, status="ready"), []),
        (paused(90, status="on_call"), []),
        (paused(90, status="wrapup"), []),
    ],
)
def test_agents_paused_too_long(agent: AgentNow, expected: list[Any]) -> None:
    alerts = evaluate([], [agent], LIMITS, NOW)
    assert seen(alerts) == expected
    assert all(
        (a.agent_id, a.agent_name, a.key) == (7, "王丽", "paused_too_long:agent:7") for a in alerts
    )


def test_next_change_is_the_first_level_a_running_clock_reaches() -> None:
    assert next_change([queue(waiting=1, waited=3)], [], LIMITS, NOW) == NOW + timedelta(seconds=7)
    assert next_change([queue(waiting=1, waited=12)], [], LIMITS, NOW) == NOW + timedelta(seconds=3)
    assert next_change([queue(waiting=1, waited=20)], [], LIMITS, NOW) is None  # both passed
    assert next_change([queue(waiting=0)], [paused(1, "lunch")], LIMITS, NOW) == NOW + timedelta(
        minutes=59
    )
    both = next_change([queue(waiting=1, waited=3)], [paused(14.5)], LIMITS, NOW)
    assert both == NOW + timedelta(seconds=7)
    assert (
        next_change([queue(offered=9, rate=50)], [paused(3, status="ready")], LIMITS, NOW) is None
    )


def test_each_crossing_counts_once() -> None:
    warn = evaluate([queue(waiting=2)], [], LIMITS, NOW)
    alarm = evaluate([queue(waiting=5)], [], LIMITS, NOW)
    assert seen(crossings({}, warn)) == seen(warn)  # a new warning
    assert crossings(levels(warn), warn) == []  # still warning: nothing new
    assert seen(crossings(levels(warn), alarm)) == seen(alarm)  # warning → alarm
    assert crossings(levels(alarm), warn) == []  # falling back is no news
    assert seen(crossings(levels([]), warn)) == seen(warn)  # gone, then back: new again
    assert levels(alarm) == {"callers_waiting:service": Level.ALERT}


def test_the_defaults_follow_the_business_rules() -> None:
    limits = Thresholds.of(load_settings())
    assert limits.longest_wait_seconds == Limit(10, 15)  # against the 15 s service level
    assert (limits.callers_waiting, limits.abandon_rate, limits.paused_minutes) == (
        Limit(2, 5),
        Limit(5, 10),
        Limit(15, 30),
    )
    assert limits.paused("lunch") == Limit(60, 75) and limits.paused("break") == Limit(15, 30)
    slower = Thresholds.of(load_settings(answer_within_seconds=30))
    assert slower.longest_wait_seconds == Limit(20, 30)
    assert Measure("longest_wait") is Measure.LONGEST_WAIT


# -- the live feed ------------------------------------------------------------------------------


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_feed_pushes_each_crossing_once(
    api: Api, db: Database, clock: FixedClock
) -> None:
    svc = api.app.state.services
    feed = WallboardFeed(svc, min_interval=0, refresh_interval=3600)
    supervisor = api.ids["supervisor"]
    inbox = svc.outbox.listen(supervisor)  # the supervisor's websocket, as far as the feed knows
    async with db.session() as session:
        await agent_states.change(
            session, user_id=api.ids["agent1"], status=AgentStatus.PAUSED, reason="break",
            at=clock.now() - timedelta(minutes=10),
        )  # fmt: skip

    def pushed(kind: str) -> list[dict[str, Any]]:
        out = []
        while not inbox.empty():
            delivery = inbox.get_nowait()
            out.append(getattr(delivery, "message", {}))
        kept.extend(out)
        return [m for m in kept if m.get("type") == kind]

    kept: list[dict[str, Any]] = []
    assert await feed.publish(changed=True)  # the baseline: 10 minutes paused, nothing yet
    assert pushed(ALERT_MESSAGE) == [] and len(pushed(MESSAGE)) == 1
    assert not await feed.publish(changed=False)  # nothing moved

    clock.advance(minutes=5, seconds=1)  # 15 minutes: a warning, due by the clock alone
    assert await feed.publish(changed=False)
    [warning] = pushed(ALERT_MESSAGE)
    assert [(a["measure"], a["level"], a["agent_id"], a["limit"]) for a in warning["alerts"]] == [
        ("paused_too_long", "warn", api.ids["agent1"], 15.0)
    ]
    board = pushed(MESSAGE)[-1]
    assert [(a["key"], a["level"]) for a in board["alerts"]] == [
        (f"paused_too_long:agent:{api.ids['agent1']}", "warn")
    ]
    assert board["thresholds"]["longest_wait_seconds"] == {"warn": 10.0, "alert": 15.0}

    assert await feed.publish(changed=True)  # another snapshot, the same warning: no news
    assert len(pushed(ALERT_MESSAGE)) == 1

    clock.advance(minutes=15)  # 30 minutes: the alarm
    assert await feed.publish(changed=False)
    alerts = pushed(ALERT_MESSAGE)
    assert len(alerts) == 2 and alerts[-1]["alerts"][0]["level"] == "alert"
    assert feed.alerts_pushed == 2
    svc.outbox.unlisten(supervisor, inbox)
