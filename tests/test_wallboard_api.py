"""GET /api/wallboard without a PBX in the process (a web process of several): calls waiting
and agents on a call come from the calls the database holds as live; today's figures and the
late work come with them, the hotline first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import Api, running_app

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


async def test_snapshot_from_the_database(api: Api, db: Database, clock: FixedClock) -> None:
    now = clock.now()
    agent1 = api.ids["agent1"]
    async with db.session() as session:
        session.add_all(
            [
                # waiting in the hotline queue for 40 s, and in a third queue for 10 s
                Call(
                    linkedid="w1",
                    direction=Direction.INBOUND,
                    queue="service",
                    started_at=now - timedelta(seconds=40),
                ),
                Call(
                    linkedid="w2",
                    direction=Direction.INBOUND,
                    queue="vip",
                    started_at=now - timedelta(seconds=10),
                ),
                # agent1 answered 12 s after the call came, 30 s ago; still talking
                Call(
                    linkedid="a1",
                    direction=Direction.INBOUND,
                    queue="service",
                    started_at=now - timedelta(seconds=42),
                    answered_at=now - timedelta(seconds=30),
                    wait_seconds=12.0,
                    agent_id=agent1,
                ),
                # abandoned after 20 s, an hour ago
                Call(
                    linkedid="x1",
                    direction=Direction.INBOUND,
                    queue="service",
                    started_at=now - timedelta(hours=1),
                    ended_at=now - timedelta(hours=1) + timedelta(seconds=20),
                    outcome=CallOutcome.ABANDONED,
                    wait_seconds=20.0,
                ),
            ]
        )
    response = await api["supervisor"].get("/api/wallboard")
    assert response.status_code == 200, response.text
    board = response.json()
    assert [q["queue"] for q in board["queues"]] == ["service", "callbacks", "vip"]
    service = board["queues"][0]
    assert (service["waiting"], service["oldest_waiting_since"]) == (
        1,
        (now - timedelta(seconds=40)).isoformat().replace("+00:00", "Z"),
    )
    # offered: a1 (answered in 12 s) and x1 (abandoned after 20 s); service level 1 / 2
    assert (service["offered"], service["answered"], service["abandoned"]) == (2, 1, 1)
    assert (
        service["service_level"],
        service["abandon_rate"],
        service["average_speed_of_answer"],
        service["longest_wait"],
    ) == (50.0, 50.0, 12.0, 20.0)
    assert board["queues"][2]["waiting"] == 1 and board["queues"][1]["waiting"] == 0
    agents = {a["extension"]: a for a in board["agents"]}
    assert agents["1001"]["status"] == "on_call" and agents["1001"]["handled"] == 1
    assert agents["1001"]["talk_seconds"] == 30.0
    assert agents["1002"]["status"] == "logged_out" and agents["1002"]["since"] is None
    assert board["threshold_seconds"] == 15 and board["day"] == "2026-11-23"
    assert board["pbx_connected"] is None  # no way to the PBX from this process
    assert (
        board["complaints_overdue"],
        board["repairs_overdue"],
        board["projects_missing_callbacks"],
        board["campaigns"],
    ) == (0, 0, 0, [])
