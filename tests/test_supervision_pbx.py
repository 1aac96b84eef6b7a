"""Supervisors on the floor, against the PBX simulator through the real server (issue 17): the
exact AMI actions the server sends to listen in (Originate into [cc-spy], ChanSpy), to pause,
unpause and log out an agent (QueuePause, QueueRemove); the simulator doing what Asterisk does
for ChanSpy (ChanSpyStart/Stop, no bridge with the agent); and the tracker leaving the
supervisor's spy call out: no call of its own, nothing changed on the agent's call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from crm.audit import service as audit
from crm.calls.models import Call
from crm.db import Database
from crm.users import service as users
from telephony.channels import AgentDirectory
from telephony.events import CallRecord
from telephony.pbx_sim.wire import Message as SimAction
from telephony.tracker import CallTracker
from tests.lab.ami_tap import AmiTap
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SUPERVISOR_PHONE = "2001"


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        async with running.database.session() as session:
            boss = await users.get_by_username(session, "supervisor")
            assert boss is not None
            await users.update(session, boss, extension=SUPERVISOR_PHONE)
        yield running


@pytest.fixture
async def tap(system: LiveSystem) -> AsyncIterator[AmiTap]:
    """Every event the simulator sends, on an AMI session of its own (a real socket)."""
    assert system.sim.address is not None
    host, port = system.sim.address
    listener = AmiTap(host, port, "callcentre", "live-secret")
    await listener.start()
    yield listener
    await listener.stop()


def headers(action: SimAction) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in action.fields:
        out.setdefault(name, []).append(value)
    return out


def queue_actions(
    received: Iterable[SimAction], since: int
) -> list[tuple[str, str, str, str, str]]:
    """The queue actions the simulator received after the first `since` actions: (action,
    Queue, Interface, Paused, Reason); every other header checked to be just these."""
    out = []
    for action in list(received)[since:]:
        if action.action not in ("QueueAdd", "QueuePause", "QueueRemove"):
            continue
        names = {name for name, _ in action.fields} - {"Action", "ActionID", "MemberName"}
        assert names <= {"Queue", "Interface", "Paused", "Reason"}, action.fields
        out.append(
            (
                action.action,
                action.get("Queue"),
                action.get("Interface"),
                action.get("Paused"),
                action.get("Reason"),
            )
        )
    return out


def events(tap: AmiTap, name: str) -> list[Any]:
    return [m for _, m in tap.events if m.get("Event") == name]


async def agent_on_a_call(system: LiveSystem, *, talk_seconds: float = 40) -> str:
    """agent1 ready, a customer calls the hotline and agent1 answers; the call's linkedid."""
    agent = await system.login("agent1")
    await agent.put("/api/agent/state", json={"status": "ready"})
    members = system.bridge.queue_members
    await until(lambda: any(m.queue == "service" for m in members.of_extension("1001")))
    linkedid = await system.sim.place_inbound_call(
        "13800138000", answer_after=1, talk_seconds=talk_seconds, hangup_by="customer"
    )
    tracker = system.bridge.tracker
    await until(lambda: any(r.answered_at for r in tracker.live_calls()))
    await agent.aclose()
    return linkedid


async def user_id(system: LiveSystem, username: str) -> int:
    async with system.database.session() as session:
        user = await users.get_by_username(session, username)
    assert user is not None
    return user.id


async def stored_calls(system: LiveSystem) -> list[Call]:
    """The call rows once every call the simulator placed has ended and been stored."""
    await system.sim.wait_calls()
    rows: list[Call] = []

    async def all_ended() -> bool:
        nonlocal rows
        await system.bridge.drain()
        async with system.database.session() as session:
            rows = list(await session.scalars(select(Call).order_by(Call.id)))
        return all(r.ended_at is not None for r in rows)

    await until(all_ended)
    return rows


def record_of(messages: Iterable[tuple[float, Any]], linkedid: str) -> tuple[CallRecord, int]:
    """The tracker's record of `linkedid` from these events (arrival times kept), and how many
    calls the tracker made of them in all."""
    tracker = CallTracker(AgentDirectory())
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first: float | None = None
    for arrived, message in messages:
        first = arrived if first is None else first
        tracker.feed(message, start + timedelta(seconds=arrived - first), arrived)
    calls = {r.linkedid: r for r in (*tracker.recent_calls(), *tracker.live_calls())}
    return calls[linkedid], len(calls)


def of_spy(message: Any) -> bool:
    """An event of the supervisor's spy call, told by its own marks (not the product's code)."""
    return any("cc-spy-" in str(v) for v in message.values()) or message.get("Context") == "cc-spy"


async def test_listening_in_rings_the_supervisors_phone_into_chanspy(
    system: LiveSystem, tap: AmiTap
) -> None:
    linkedid = await agent_on_a_call(system)
    services = system.services
    agent_id, boss_id = await user_id(system, "agent1"), await user_id(system, "supervisor")

    def told_of_the_answer() -> bool:
        sent = [d.message for d in services.outbox.since(agent_id, 0)]
        return any(m["type"] == "answered" for m in sent) and any(
            m["type"] == "state" and m["presence"] == "on_call" for m in sent
        )

    # What answering the call tells the agent travels by the bus: it has all arrived before
    # the count is taken, so anything after it comes from the listening.
    await until(told_of_the_answer)
    agent_seq = services.outbox.last_seq(agent_id)
    boss = await system.login("supervisor")

    response = await boss.post(f"/api/supervision/agents/{agent_id}/spy", json={"mode": "listen"})
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["mode"], answer["agent_extension"], answer["linkedid"]) == (
        "listen",
        "1001",
        linkedid,
    )

    # The exact Originate the simulator received over the bridge's socket.
    [originate] = [
        a for a in system.sim.actions_received("Originate") if a.get("Context") == "cc-spy"
    ]
    sent = headers(originate)
    channel_id = sent["ChannelId"][0]
    assert {k: v for k, v in sent.items() if k not in ("ActionID", "ChannelId")} == {
        "Action": ["Originate"],
        "Channel": [f"PJSIP/{SUPERVISOR_PHONE}"],
        "Context": ["cc-spy"],
        "Exten": ["listen"],
        "Priority": ["1"],
        "Timeout": ["30000"],
        "Async": ["true"],
        "CallerID": ['"坐席1001" <1001>'],
        "Variable": ["CC_SPY_EXTEN=1001"],
    }
    assert channel_id.startswith("cc-spy-") and sent["ActionID"] == [answer["action_id"]]

    # The supervisor's phone answers; ChanSpy attaches to the agent's phone channel.
    await until(lambda: bool(events(tap, "ChanSpyStart")))
    [start] = events(tap, "ChanSpyStart")
    assert start["SpyerChannel"].startswith(f"PJSIP/{SUPERVISOR_PHONE}-")
    assert (start["SpyerUniqueid"], start["SpyerLinkedid"]) == (channel_id, channel_id)
    assert start["SpyeeChannel"].startswith("PJSIP/1001-")
    assert start["SpyeeLinkedid"] == linkedid
    spying = [c for c in system.sim.pbx.channels if c.name.startswith(f"PJSIP/{SUPERVISOR_PHONE}-")]
    assert [(c.spying, c.bridge) for c in spying] == [(True, None)]  # no bridge with anyone
    assert services.outbox.last_seq(agent_id) == agent_seq  # the agent is told nothing

    # The customer hangs up: ChanSpy's E ends the spy call too.
    rows = await stored_calls(system)
    await until(lambda: bool(events(tap, "ChanSpyStop")))
    assert not [c for c in system.sim.pbx.channels if c.name.startswith("PJSIP/2001")]
    enters = {m["Channel"] for m in events(tap, "BridgeEnter")}
    assert not any(name.startswith(f"PJSIP/{SUPERVISOR_PHONE}") for name in enters)

    # One call stored: the customer's, answered by agent1; the spy leg is no call.
    async with system.database.session() as session:
        entries = await audit.get_all(session, action="supervision.listen")
    assert [(r.linkedid, r.outcome, r.agent_interface) for r in rows] == [
        (linkedid, "answered", "PJSIP/1001")
    ]
    assert rows[0].agents_rung == ["PJSIP/1001"] and rows[0].agents_connected == ["PJSIP/1001"]
    # Audited: who listened to whom, on which call.
    [entry] = entries
    assert (entry.user_id, entry.actor, entry.entity_type, entry.entity_id) == (
        boss_id,
        "supervisor",
        "agent",
        str(agent_id),
    )
    assert entry.detail["linkedid"] == linkedid and entry.detail["channel_id"] == channel_id
    # The supervisor's phone rang, but no pop reached anyone for it.
    assert [d.message["type"] for d in services.outbox.since(boss_id, 0)].count("pop") == 0

    # The tracker, fed every event the PBX sent, keeps the agent's call exactly as it is
    # without the spy call's events, and makes no call of the spy leg.
    with_spy, calls = record_of(tap.events, linkedid)
    without_spy, _ = record_of([(t, m) for t, m in tap.events if not of_spy(m)], linkedid)
    assert any(of_spy(m) for _, m in tap.events)
    assert with_spy == without_spy and calls == 1
    await boss.aclose()


@pytest.mark.parametrize(("mode", "letters"), [("whisper", "bqESw"), ("barge", "bqESB")])
async def test_whisper_and_barge_are_chanspy_with_their_options(
    system: LiveSystem, tap: AmiTap, mode: str, letters: str
) -> None:
    await agent_on_a_call(system)
    boss = await system.login("supervisor")
    agent_id = await user_id(system, "agent1")
    response = await boss.post(f"/api/supervision/agents/{agent_id}/spy", json={"mode": mode})
    assert response.status_code == 202, response.text
    await until(lambda: bool(events(tap, "ChanSpyStart")))
    runs = [
        m["AppData"]
        for m in events(tap, "Newexten")
        if m.get("Application") == "ChanSpy" and m.get("Context") == "cc-spy"
    ]
    assert runs == [f"PJSIP/1001-,{letters}"]
    await system.sim.wait_calls()
    await boss.aclose()


async def test_no_live_call_the_spy_call_ends_at_once(system: LiveSystem, tap: AmiTap) -> None:
    """ChanSpy's S: the dialplan finds no channel of the agent's and hangs up (the API refuses
    first; this is what the PBX does if the call ended in between)."""
    future = system.sim.originate(
        f"PJSIP/{SUPERVISOR_PHONE}",
        context="cc-spy",
        exten="listen",
        variables={"CC_SPY_EXTEN": "1001"},
        channel_id="cc-spy-nobody",
    )
    assert (await future).success
    await system.sim.wait_calls()
    await until(lambda: bool(events(tap, "Hangup")))
    hangups = [m for m in events(tap, "Hangup") if m.get("Uniqueid") == "cc-spy-nobody"]
    assert len(hangups) == 1 and not events(tap, "ChanSpyStart")
    assert await stored_calls(system) == []


async def test_the_dialplan_keeps_only_digits_of_the_spied_extension(
    system: LiveSystem, tap: AmiTap
) -> None:
    """A variable that tries to add ChanSpy options (or spy on everyone) reaches ChanSpy as its
    digits only."""
    future = system.sim.originate(
        f"PJSIP/{SUPERVISOR_PHONE}",
        context="cc-spy",
        exten="listen",
        variables={"CC_SPY_EXTEN": "1,B)"},
        channel_id="cc-spy-injection",
    )
    assert (await future).success
    await system.sim.wait_calls()
    runs = [m["AppData"] for m in events(tap, "Newexten") if m.get("Application") == "ChanSpy"]
    assert runs == ["PJSIP/1-,bqES"]


async def test_the_supervisor_hanging_up_leaves_the_call_as_it_was(
    system: LiveSystem, tap: AmiTap
) -> None:
    linkedid = await agent_on_a_call(system, talk_seconds=60)
    boss = await system.login("supervisor")
    agent_id = await user_id(system, "agent1")
    response = await boss.post(f"/api/supervision/agents/{agent_id}/spy", json={})
    assert response.status_code == 202 and response.json()["mode"] == "listen"
    await until(lambda: bool(events(tap, "ChanSpyStart")))
    [spyer] = [c for c in system.sim.pbx.channels if c.name.startswith("PJSIP/2001-")]
    hangup = await tap.send({"Action": "Hangup", "Channel": spyer.name})
    assert hangup.success, dict(hangup)
    await until(lambda: bool(events(tap, "ChanSpyStop")))
    assert any(r.linkedid == linkedid for r in system.bridge.tracker.live_calls())
    rows = await stored_calls(system)
    assert [(r.linkedid, r.outcome, r.hung_up_by) for r in rows] == [
        (linkedid, "answered", "customer")
    ]
    await boss.aclose()


async def test_pause_unpause_and_log_out_an_agent(system: LiveSystem) -> None:
    agent = await system.login("agent1")
    await agent.put("/api/agent/state", json={"status": "ready"})
    bridge = system.bridge
    await until(lambda: len(bridge.queue_members.of_extension("1001")) == 2)
    agent_id = await user_id(system, "agent1")
    boss = await system.login("supervisor")
    base = f"/api/supervision/agents/{agent_id}"
    sim = system.sim

    seen = len(sim.received)
    response = await boss.post(f"{base}/pause", json={"reason": "meeting"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["reason"]) == ("paused", "meeting")
    assert response.json()["pbx_synced"] is True
    # The agents' own path: each queue keeps the member, paused; then the pause's reason.
    assert queue_actions(sim.received, seen) == [
        ("QueueAdd", "service", "PJSIP/1001", "true", ""),
        ("QueuePause", "service", "PJSIP/1001", "true", ""),
        ("QueueAdd", "callbacks", "PJSIP/1001", "true", ""),
        ("QueuePause", "callbacks", "PJSIP/1001", "true", ""),
        ("QueuePause", "", "PJSIP/1001", "true", "meeting"),
    ]
    await until(lambda: all(m.paused for m in bridge.queue_members.of_extension("1001")))
    reasons = {m.paused_reason for m in bridge.queue_members.of_extension("1001")}
    assert reasons == {"meeting"}
    # The agent's own page is told (their state changed).
    state = await agent.get("/api/agent/state")
    assert (state.json()["status"], state.json()["reason"]) == ("paused", "meeting")

    seen = len(sim.received)
    response = await boss.post(f"{base}/unpause")
    assert response.status_code == 200 and response.json()["status"] == "ready"
    assert queue_actions(sim.received, seen) == [
        ("QueueAdd", "service", "PJSIP/1001", "false", ""),
        ("QueuePause", "service", "PJSIP/1001", "false", ""),
        ("QueueAdd", "callbacks", "PJSIP/1001", "false", ""),
        ("QueuePause", "callbacks", "PJSIP/1001", "false", ""),
        ("QueuePause", "", "PJSIP/1001", "false", ""),
    ]
    await until(lambda: not any(m.paused for m in bridge.queue_members.of_extension("1001")))

    seen = len(sim.received)
    response = await boss.post(f"{base}/logout")
    assert response.status_code == 200 and response.json()["status"] == "logged_out"
    assert queue_actions(sim.received, seen) == [
        ("QueueRemove", "service", "PJSIP/1001", "", ""),
        ("QueueRemove", "callbacks", "PJSIP/1001", "", ""),
    ]
    await until(lambda: bridge.queue_members.of_extension("1001") == [])

    # A logged-out agent is not paused, nor unpaused, by a supervisor.
    refused = await boss.post(f"{base}/pause", json={"reason": "break"})
    assert (refused.status_code, refused.json()["detail"][0]["code"]) == (409, "agent_logged_out")
    refused = await boss.post(f"{base}/unpause")
    assert (refused.status_code, refused.json()["detail"][0]["code"]) == (409, "agent_not_paused")

    async with system.database.session() as session:
        trail = await audit.get_all(session, entity_type="agent", entity_id=agent_id)
    assert [(e.action, e.actor, e.detail["status"]) for e in reversed(trail)] == [
        ("supervision.pause", "supervisor", "paused"),
        ("supervision.unpause", "supervisor", "ready"),
        ("supervision.logout", "supervisor", "logged_out"),
    ]
    assert trail[-1].detail["reason"] == "meeting" and trail[-1].detail["was"] == "ready"
    await boss.aclose()
    await agent.aclose()


async def test_a_spy_call_the_pbx_cannot_place_is_no_failed_call(
    system: LiveSystem, tap: AmiTap
) -> None:
    """The supervisor's phone is not registered: the queued Originate fails without a channel
    (OriginateResponse Failure, Context cc-spy, Uniqueid <unknown>), which the tracker would
    otherwise store as a failed outbound call."""
    linkedid = await agent_on_a_call(system)
    system.sim.config.unregistered_extensions.append(SUPERVISOR_PHONE)
    boss = await system.login("supervisor")
    agent_id = await user_id(system, "agent1")
    response = await boss.post(f"/api/supervision/agents/{agent_id}/spy", json={})
    assert response.status_code == 202  # Async: queued; the outcome comes as an event
    await until(lambda: bool(events(tap, "OriginateResponse")))
    [failed] = events(tap, "OriginateResponse")
    assert (failed["Response"], failed["Context"], failed["Uniqueid"]) == (
        "Failure",
        "cc-spy",
        "<unknown>",
    )
    rows = await stored_calls(system)
    assert [(r.linkedid, r.direction) for r in rows] == [(linkedid, "inbound")]
    await boss.aclose()


async def test_no_live_call_no_listening(system: LiveSystem) -> None:
    """The PBX is there, the agent is ready but on no call: 409, and nothing is originated."""
    agent = await system.login("agent1")
    await agent.put("/api/agent/state", json={"status": "ready"})
    boss = await system.login("supervisor")
    before = len(system.sim.actions_received("Originate"))
    response = await boss.post(
        f"/api/supervision/agents/{await user_id(system, 'agent1')}/spy", json={}
    )
    assert (response.status_code, response.json()["detail"][0]["code"]) == (409, "no_live_call")
    assert len(system.sim.actions_received("Originate")) == before
    await boss.aclose()
    await agent.aclose()
