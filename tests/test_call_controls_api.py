"""The call controls' API through the real server and the PBX simulator: who may act on which
call, every refusal a clear 4xx (or 503 without a PBX), supervisors audited; and the dial pad's
rules (do-not-call, calling hours) shared with the campaigns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from crm.audit import service as audit
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.db import Database
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def system(db: Database, tmp_path: Path, clock: FixedClock) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, clock=clock) as running:
        yield running


def problem(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["detail"][0]["code"]


async def talking(system: LiveSystem, client: httpx.AsyncClient) -> str:
    """An inbound call agent1 (1001) has answered; its linkedid."""
    await client.put("/api/agent/state", json={"status": "ready"})
    bridge = system.bridge
    await until(lambda: bool(bridge.queue_members.of_extension("1001")))
    linkedid = await system.sim.place_inbound_call("13800138000", talk_seconds=100_000)

    async def answered() -> bool:
        response = await client.get(f"/api/calls/live/{linkedid}/controls")
        return response.status_code == 200 and response.json()["phase"] == "talking"

    await until(answered, timeout=15)
    return linkedid


async def test_an_agent_controls_their_own_call(system: LiveSystem) -> None:
    agent = await system.login("agent1")
    other = await system.login("agent2")
    linkedid = await talking(system, agent)
    base = f"/api/calls/live/{linkedid}"

    state = (await agent.get(f"{base}/controls")).json()
    assert state["agent_extension"] == "1001" and not state["muted"]
    assert set(state["allowed"]) == {
        "hangup", "hold", "transfer", "consult", "conference", "mute",
    }  # fmt: skip
    # Another agent is not on this call: refused, and nothing sent to the PBX.
    system.sim.received.clear()
    assert problem(await other.post(f"{base}/hold")) == (403, "not_on_call")
    assert problem(await other.get(f"{base}/controls")) == (403, "not_on_call")
    assert not [m for m in system.sim.received if m.action == "Redirect"]

    held = await agent.post(f"{base}/hold")
    assert held.status_code == 200, held.text
    assert held.json()["phase"] == "held" and "resume" in held.json()["allowed"]
    assert problem(await agent.post(f"{base}/hold")) == (409, "not_now")
    resumed = await agent.post(f"{base}/resume")
    assert resumed.json()["phase"] == "talking"
    assert (await agent.post(f"{base}/mute")).json()["muted"] is True
    assert (await agent.post(f"{base}/unmute")).json()["muted"] is False

    # Where a transfer may go: checked before anything reaches the PBX.
    for target, refusal in (
        ({"kind": "extension", "value": "1009"}, (422, "unknown_extension")),
        ({"kind": "extension", "value": "1001"}, (422, "own_extension")),
        ({"kind": "extension", "value": "10a"}, (422, "invalid_extension")),
        ({"kind": "queue", "value": "sales"}, (422, "unknown_queue")),
        ({"kind": "number", "value": "12"}, (422, "invalid_phone")),
        ({"kind": "number", "value": "110"}, (422, "not_dialable")),
    ):
        response = await agent.post(f"{base}/transfer", json={"target": target})
        assert problem(response) == refusal, target
        assert response.json()["detail"][0]["field"] == "target.value"
    assert problem(await agent.post(f"{base}/conference", json={})) == (422, "needs_target")
    assert (
        await agent.post(f"{base}/transfer", json={"target": {"kind": "pager"}})
    ).status_code == 422
    assert problem(await agent.post(f"{base}/transfer/complete")) == (409, "not_now")

    transferred = await agent.post(
        f"{base}/transfer", json={"target": {"kind": "extension", "value": "1002"}}
    )
    assert transferred.status_code == 200, transferred.text
    assert problem(await agent.post(f"{base}/hold")) == (403, "not_on_call")  # handed on
    for client in (agent, other):
        await client.aclose()


async def test_a_supervisor_acts_on_any_call_and_is_audited(system: LiveSystem) -> None:
    agent = await system.login("agent1")
    supervisor = await system.login("supervisor")
    linkedid = await talking(system, agent)
    base = f"/api/calls/live/{linkedid}"
    state = (await supervisor.get(f"{base}/controls")).json()
    assert state["agent_extension"] == "1001"
    done = await supervisor.post(f"{base}/hangup")
    assert done.status_code == 200 and done.json()["phase"] == "ended"
    await until(lambda: system.bridge.tracker.ended(linkedid), timeout=15)
    async with system.database.session() as session:
        [entry] = await audit.get_all(session, action="call.hangup")
    assert (entry.actor, entry.entity_type, entry.entity_id) == ("supervisor", "call", linkedid)
    assert entry.detail == {"agent_extension": "1001"}
    # The call is over: a clear refusal, and for a call that never was, another.
    assert problem(await supervisor.post(f"{base}/hold")) == (409, "call_ended")
    assert problem(await agent.get(f"{base}/controls")) == (409, "call_ended")
    assert problem(await agent.post("/api/calls/live/1.999/hold")) == (404, "no_live_call")
    assert (await agent.post("/api/calls/live/a%20b/hold")).status_code == 422
    for client in (agent, supervisor):
        await client.aclose()


async def test_pbx_down_is_a_503_that_says_so(system: LiveSystem) -> None:
    agent = await system.login("agent1")
    linkedid = await talking(system, agent)
    await system.sim.stop()
    await until(lambda: not system.bridge.client.connected, timeout=15)
    response = await agent.post(f"/api/calls/live/{linkedid}/hold")
    assert problem(response) == (503, "pbx_unavailable")
    assert "not connected" in response.json()["detail"][0]["message"]
    await agent.aclose()


async def test_dial_pad_calls_a_typed_number_within_the_rules(
    system: LiveSystem, clock: FixedClock
) -> None:
    async with system.database.session() as session:
        await customers.create(
            session, name="赵六", phones=["13600136000"], do_not_call=True,
            do_not_call_reason="客户要求不再回访",
        )  # fmt: skip
    agent = await system.login("agent1")
    typed = await agent.post("/api/calls/dial", json={"number": "139 0013 9000"})
    assert typed.status_code == 202, typed.text
    assert (typed.json()["number"], typed.json()["attempt_id"]) == ("13900139000", None)
    response = await agent.post("/api/calls/dial", json={"number": "136-0013-6000"})
    assert problem(response) == (409, "do_not_call")
    # At 21:30 in Shanghai the centre's calling hours (09:00-12:00, 14:00-20:00) are closed.
    clock.set(datetime(2026, 11, 23, 13, 30, tzinfo=UTC))
    late = await agent.post("/api/calls/dial", json={"number": "13900139001"})
    assert problem(late) == (409, "outside_calling_hours")
    assert "2026-11-24T09:00" in late.json()["detail"][0]["message"]
    await agent.aclose()
