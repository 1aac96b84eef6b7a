"""The outbox keeps each user's pushed messages for pages that reconnect: within the retention
time, in order, and no longer, whether or not a page ever reconnects (a busy agent's history
is minutes of messages, not half a day's); /metrics says how many it keeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from crm.agents.events import AgentStateChanged
from crm.agents.models import AgentStatus
from crm.bus import Event
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import running_app
from tests.support.waiting import until
from web.outbox import Outbox
from web.services import Services
from web.ws_messages import AnsweredMessage

START = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


def _answered(n: int) -> AnsweredMessage:
    return AnsweredMessage(linkedid=f"call.{n}", at=START)


def test_messages_past_the_retention_are_dropped_as_new_ones_arrive() -> None:
    clock = FixedClock(START)
    outbox = Outbox(clock=clock, retention_seconds=10, max_per_user=500)
    for n in range(100):  # one message a second for 100 s, no page reconnecting
        outbox.push(7, _answered(n))
        outbox.push(8, _answered(n))
        clock.advance(seconds=1)
    assert outbox.held() == 2 * 11  # the last ten seconds each, both ends kept: not 100
    assert [d.message["linkedid"] for d in outbox.since(7, 0)] == [
        f"call.{n}" for n in range(90, 100)
    ]
    assert [d.seq for d in outbox.since(7, 95)] == [96, 97, 98, 99, 100]


def test_a_page_reconnecting_within_the_retention_gets_what_it_missed_once() -> None:
    clock = FixedClock(START)
    outbox = Outbox(clock=clock, retention_seconds=600, max_per_user=3)
    for n in range(5):
        outbox.push(7, _answered(n))
    assert outbox.last_seq(7) == 5
    assert [d.seq for d in outbox.since(7, 2)] == [3, 4, 5]  # at most max_per_user kept
    assert outbox.since(7, 5) == []
    clock.advance(seconds=601)
    assert outbox.since(7, 0) == []  # all past the retention
    assert outbox.held() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_say_how_many_messages_are_kept(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    """What the retention keeps is on /metrics, so an operator sees it stay bounded."""
    async with running_app(settings, db, clock=clock) as api:
        svc: Services = api.app.state.services
        before = svc.outbox.held()
        for n in range(5):
            svc.outbox.push(api.ids["agent1"], _answered(n))
        metrics = (await api.anonymous().get("/metrics")).text
        assert f"callcentre_ws_resume_messages {float(before + 5)}" in metrics


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_say_what_each_bus_subscriber_has_yet_to_handle(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    async with running_app(settings, db, clock=clock) as api:
        svc: Services = api.app.state.services
        held = asyncio.Event()

        async def stuck(event: Event) -> None:
            await held.wait()

        subscription = svc.bus.subscribe(
            stuck, name="stuck-for-the-test", types=(AgentStateChanged,)
        )
        for _ in range(4):
            svc.bus.publish(AgentStateChanged(api.ids["agent1"], AgentStatus.READY))
        await until(lambda: svc.bus.waiting()["stuck-for-the-test"] == 3)
        metrics = (await api.anonymous().get("/metrics")).text
        assert 'callcentre_bus_waiting_events{subscription="stuck-for-the-test"} 3.0' in metrics
        held.set()
        await svc.bus.unsubscribe(subscription)
