"""Agent states and click-to-call against the PBX simulator, through the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, Outcome
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from tests.support.live import LiveSystem, live_system
from tests.support.rows import found
from tests.support.waiting import until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def system(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[LiveSystem]:
    # A fixed Monday morning: click-to-call keeps to the calling hours.
    async with live_system(db, tmp_path, clock=clock) as running:
        yield running


def members(system: LiveSystem, extension: str) -> dict[str, bool]:
    """queue → paused, as the PBX sees agent `extension` (from the bridge's live view)."""
    return {m.queue: m.paused for m in system.bridge.queue_members.of_extension(extension)}


async def test_states_drive_queue_membership(system: LiveSystem) -> None:
    client = await system.login("agent1")
    await client.put("/api/agent/state", json={"status": "ready"})
    await until(lambda: members(system, "1001") == {"service": False, "callbacks": False})
    response = await client.put("/api/agent/state", json={"status": "paused", "reason": "training"})
    assert response.json()["pbx_synced"] is True
    await until(lambda: members(system, "1001") == {"service": True, "callbacks": True})
    reasons = {m.paused_reason for m in system.bridge.queue_members.of_extension("1001")}
    assert reasons == {"training"}
    # A paused agent is not rung.
    await system.sim.place_inbound_call("13800138000", abandon=2)
    await system.sim.wait_calls()
    await system.bridge.drain()
    async with system.database.session() as session:
        call = found(await session.scalar(select(Call)), "the call")
    assert call.agents_rung == [] and call.outcome in ("abandoned", "no_answer")
    await client.put("/api/agent/state", json={"status": "logged_out"})
    await until(lambda: members(system, "1001") == {})
    await client.aclose()


async def test_pbx_restart_puts_agents_back_in_their_queues(system: LiveSystem) -> None:
    client = await system.login("agent1")
    await client.put("/api/agent/state", json={"status": "ready"})
    await until(lambda: members(system, "1001") == {"service": False, "callbacks": False})
    await system.sim.restart()  # a restarted Asterisk forgets dynamic members
    await until(lambda: system.bridge.client.connections >= 2)
    await until(lambda: members(system, "1001") == {"service": False, "callbacks": False})
    state = (await client.get("/api/agent/state")).json()
    assert state["status"] == "ready"
    await client.aclose()


async def _task(db: Database, phone: str) -> int:
    async with db.session() as session:
        customer = await customers.create(session, name="李娜", phones=[phone])
        project = await projects.create(
            session,
            customer=customer,
            contract_number=f"XA-{phone}",
            rules=ScheduleRules(),
            start_date=date(2026, 11, 20),
        )
        return (await callbacks.get_for_project(session, project.id))[0].id


async def test_click_to_call_a_callback_logs_the_attempt_first(system: LiveSystem) -> None:
    task_id = await _task(system.database, "13900139000")
    client = await system.login("agent1")
    response = await client.post(
        "/api/calls/dial", json={"number": "139-0013-9000", "task_id": task_id}
    )
    assert response.status_code == 202, response.text
    attempt_id = response.json()["attempt_id"]
    async with system.database.session() as session:
        attempt = found(await session.get(CallbackAttempt, attempt_id), "the attempt")
        assert attempt.outcome is None and attempt.dialed_number == "13900139000"
    await system.sim.wait_calls()
    await system.bridge.drain()
    async with system.database.session() as session:
        call = found(await session.scalar(select(Call)), "the call")
        attempt = found(await session.get(CallbackAttempt, attempt_id), "the attempt")
    assert (call.direction, call.dialed, call.outcome) == ("outbound", "13900139000", "answered")
    assert attempt.call_id == call.id and attempt.outcome is None  # the agent's form decides
    response = await client.post(
        f"/api/callbacks/{task_id}/attempts",
        json={
            "attempt_id": attempt_id,
            "outcome": "effective",
            "satisfaction": {"quality": "satisfied"},
        },
    )
    assert response.status_code == 201 and response.json()["status"] == "done"
    assert response.json()["attempt_count"] == 1
    await client.aclose()


async def test_click_to_call_busy_is_recorded_from_the_pbx(system: LiveSystem) -> None:
    task_id = await _task(system.database, "13700137000")  # busy in the simulator
    client = await system.login("agent1")
    response = await client.post(
        "/api/calls/dial", json={"number": "13700137000", "task_id": task_id}
    )
    attempt_id = response.json()["attempt_id"]
    await system.sim.wait_calls()
    await system.bridge.drain()
    await system.services.bus.drain()
    async with system.database.session() as session:
        attempt = found(await session.get(CallbackAttempt, attempt_id), "the attempt")
        task = await callbacks.get_or_raise(session, task_id)
    assert attempt.outcome is Outcome.BUSY and task.status.value == "pending"
    await client.aclose()


async def test_do_not_call_customers_are_not_dialed(system: LiveSystem) -> None:
    async with system.database.session() as session:
        await customers.create(
            session,
            name="赵六",
            phones=["13600136000"],
            do_not_call=True,
            do_not_call_reason="客户要求不再回访",
        )
    client = await system.login("agent1")
    response = await client.post("/api/calls/dial", json={"number": "13600136000"})
    assert response.status_code == 409
    assert response.json()["detail"][0]["code"] == "do_not_call"
    await client.aclose()
