"""The AMI bridge end to end over TCP against the PBX simulator: calls reach the database,
screen-pop events reach the bus, and faults (drops, silence, restarts) lose no call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from panoramisk.message import Message
from sqlalchemy import func, select

from crm.bus import LocalBus
from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, MadeBy
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call
from crm.clock import SystemClock
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.settings import Settings, load_settings
from crm.users import service as users
from crm.users.models import Role
from telephony.ami.framing import read_capture
from telephony.bridge import Bridge
from telephony.events import AgentRinging, CallAnswered, CallArrived, CallEnded, RingStopped
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.conftest import FIXTURES
from tests.support.rows import found
from tests.support.waiting import until
from web.pops import POP_EVENTS

SCALE = 0.05  # simulated seconds run 20 times faster


class Rig:
    """A simulator, a bridge on top of it and the events the bridge published."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        self.database = database
        self.tmp_path = tmp_path
        self.events: list[object] = []

    async def start(self, *, secret: str = "test-secret") -> None:
        self.sim = PbxSimulator(
            SimulatorConfig(
                port=0,
                user="callcentre",
                secret="test-secret",
                time_scale=SCALE,
                seed=7,
                recordings_dir=self.tmp_path / "recordings",
                talk_seconds=(20, 20),
            ),
            clock=SystemClock(),
        )
        _, port = await self.sim.start()
        self.settings = self.settings_for(port, secret)
        await self.start_bridge()

    def settings_for(self, port: int, secret: str) -> Settings:
        return load_settings(
            database_url=self.database.url,
            ami_port=port,
            ami_secret=secret,
            ami_ping_interval=0.3,
            ami_ping_timeout=0.4,
            ami_reconnect_min=0.05,
            ami_reconnect_max=0.3,
            default_area_code="029",
        )

    async def start_bridge(self) -> None:
        self.bus = LocalBus()

        async def record(event: object) -> None:
            self.events.append(event)

        self.bus.subscribe(record, name="test")
        self.bridge = Bridge(self.settings, self.database, self.bus, clock=SystemClock())
        await self.bridge.start()
        await until(lambda: self.bridge.client.connected or bool(self.bridge.fatal))

    async def stop_bridge(self) -> None:
        await self.bridge.stop()
        await self.bus.close()

    async def settle(self) -> None:
        await self.sim.wait_calls()
        await asyncio.sleep(0.1)
        await self.bridge.drain()
        await self.bus.drain()

    async def calls(self) -> list[Call]:
        async with self.database.session() as session:
            return list(await session.scalars(select(Call).order_by(Call.id)))


@pytest.fixture
async def rig(db: Database, tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(db, tmp_path)
    await rig.start()
    yield rig
    await rig.stop_bridge()
    await rig.sim.stop()


async def _agent(db: Database, username: str, extension: str) -> int:
    async with db.session() as session:
        user = await users.create(
            session,
            username=username,
            password="password1",
            display_name=username,
            role=Role.AGENT,
            extension=extension,
        )
        return user.id


async def test_inbound_queue_call_reaches_the_database_and_the_bus(rig: Rig) -> None:
    agent_id = await _agent(rig.database, "agent1", "1001")
    async with rig.database.session() as session:
        customer = await customers.create(
            session, name="王建国", phones=["138-0013-8000"], default_area_code="029"
        )
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="王小丽")
    linkedid = await rig.sim.place_inbound_call(
        "+8613800138000", answer_after=1, talk_seconds=10, hangup_by="customer"
    )
    await rig.settle()

    [call] = await rig.calls()
    assert (call.linkedid, call.direction, call.outcome) == (linkedid, "inbound", "answered")
    assert call.customer_id == customer.id and call.customer_number == "13800138000"
    assert call.agent_id == agent_id and call.agent_interface == "PJSIP/1001"
    assert call.queue == "service" and call.agents_rung == ["PJSIP/1001"]
    assert call.hung_up_by == "customer" and call.hangup_cause == 16
    assert call.talk_seconds == pytest.approx(10, abs=1)
    assert call.recording and call.recording_agent and call.recording_customer
    assert call.answered_at and call.ended_at and not call.end_inferred

    kinds = [type(e) for e in rig.events]
    assert kinds.index(AgentRinging) < kinds.index(CallAnswered) < kinds.index(CallEnded)
    ring = next(e for e in rig.events if isinstance(e, AgentRinging))
    assert (ring.extension, ring.caller, ring.queue) == ("1001", "+8613800138000", "service")
    arrived = [e for e in rig.events if isinstance(e, CallArrived)]
    assert [(e.linkedid, e.caller) for e in arrived] == [(linkedid, "+8613800138000")]
    assert kinds.index(CallArrived) < kinds.index(AgentRinging)
    # Every kind of event the screen pops act on reaches the bus (one kept inside the bridge
    # would leave its handler dead in production, however well its unit tests pass); only a
    # ring stopping is not part of this call.
    assert set(POP_EVENTS) - {RingStopped} <= set(kinds)


async def test_callback_originate_is_linked_to_its_attempt(rig: Rig, clock) -> None:
    agent_id = await _agent(rig.database, "agent1", "1001")
    async with rig.database.session() as session:
        customer = await customers.create(session, name="李娜", phones=["13900139000"])
        from datetime import date

        project = await projects.create(
            session,
            customer=customer,
            contract_number="XA-1",
            rules=ScheduleRules(),
            start_date=date(2026, 11, 20),
        )
        task = (await callbacks.get_for_project(session, project.id))[0]
        attempt = await callbacks.start_attempt(
            session, task=task, made_by=MadeBy.AGENT, agent_id=agent_id, at=clock.now()
        )
    await rig.bridge.originate(
        channel="PJSIP/1001",
        context="callback",
        exten="13900139000",
        variables={"CC_ATTEMPT_ID": str(attempt.id), "CC_CUSTOMER_NUMBER": "13900139000"},
        attempt_id=attempt.id,
        dialed="13900139000",
    )
    await rig.settle()

    [call] = await rig.calls()
    assert (call.direction, call.dialed, call.outcome) == ("outbound", "13900139000", "answered")
    assert call.customer_id == customer.id and call.agent_id == agent_id
    async with rig.database.session() as session:
        assert found(await session.get(CallbackAttempt, attempt.id)).call_id == call.id
    ring = next(e for e in rig.events if isinstance(e, AgentRinging))
    assert (ring.extension, ring.caller, ring.attempt_id) == ("1001", "13900139000", attempt.id)


async def test_busy_originate_without_a_channel_name_is_still_recorded(rig: Rig) -> None:
    await rig.bridge.originate(
        channel="PJSIP/13700137000@trunk",
        context="callback-queue",
        exten="s",
        attempt_id=99,
        dialed="13700137000",
        variables={"CC_ATTEMPT_ID": "99"},
    )
    await rig.settle()
    [call] = await rig.calls()
    assert (call.direction, call.outcome, call.hangup_cause) == ("outbound", "busy", 17)
    assert call.dialed == "13700137000"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_dropped_connection_mid_call_loses_nothing(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    linkedid = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=30)
    await until(lambda: any(isinstance(e, CallAnswered) for e in rig.events))
    rig.sim.drop_connections()
    await until(lambda: rig.bridge.client.connections >= 2)
    await rig.settle()
    [call] = await rig.calls()
    assert (call.linkedid, call.outcome, call.end_inferred) == (linkedid, "answered", False)
    assert call.ended_at is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_call_that_ends_while_the_pbx_is_silent_is_closed_as_inferred(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    linkedid = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=8)
    await until(lambda: any(isinstance(e, CallAnswered) for e in rig.events))
    rig.sim.set_silent(True)  # answers nothing, sends nothing: the call ends unseen
    await rig.sim.wait_calls()
    await until(lambda: not rig.bridge.client.connected, timeout=5)
    rig.sim.set_silent(False)
    await until(lambda: rig.bridge.client.connected, timeout=5)
    await rig.settle()
    [call] = await rig.calls()
    assert call.linkedid == linkedid and call.ended_at is not None and call.end_inferred
    assert call.outcome == "answered"  # it had been answered before the PBX went quiet


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_pbx_restart_with_calls_in_progress(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    before = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=60)
    waiting = await rig.sim.place_inbound_call("13900139000", answer_after=1, talk_seconds=60)
    await until(lambda: any(isinstance(e, CallAnswered) for e in rig.events))
    await rig.sim.crash()  # the PBX dies and comes back: the calls' ends are never announced
    await until(lambda: rig.bridge.client.connections >= 2)
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    after = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=5)
    await rig.settle()
    calls = {c.linkedid: c for c in await rig.calls()}
    assert set(calls) == {before, waiting, after}  # nothing lost, nothing duplicated
    assert calls[before].end_inferred and calls[before].ended_at
    assert calls[waiting].end_inferred and calls[waiting].ended_at
    assert not calls[after].end_inferred and calls[after].outcome == "answered"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_bridge_restart_settles_calls_left_open(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    ended = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=6)
    ongoing = await rig.sim.place_inbound_call(
        "13900139000", answer_after=1, talk_seconds=60, extension="1002"
    )  # a direct call
    await until(lambda: sum(isinstance(e, CallAnswered) for e in rig.events) >= 2)
    await rig.bridge.drain()
    await rig.stop_bridge()  # the server goes down mid-call
    await asyncio.sleep(8 * SCALE + 0.3)  # the short call ends meanwhile
    await rig.start_bridge()
    await rig.settle()
    calls = {c.linkedid: c for c in await rig.calls()}
    assert set(calls) == {ended, ongoing}
    assert calls[ended].end_inferred and calls[ended].ended_at
    assert calls[ongoing].ended_at and not calls[ongoing].end_inferred
    assert calls[ongoing].outcome == "answered"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_wrong_secret_stops_with_a_clear_error(db: Database, tmp_path: Path) -> None:
    rig = Rig(db, tmp_path)
    await rig.start(secret="wrong")
    try:
        assert rig.bridge.fatal and "callcentre" in rig.bridge.fatal
        assert rig.bridge.health()["connected"] is False
        assert rig.bridge.client.attempts == 1
        await asyncio.sleep(0.5)  # several reconnect intervals (0.05–0.3 s): none is tried
        assert rig.bridge.client.attempts == 1
    finally:
        await rig.stop_bridge()
        await rig.sim.stop()


async def test_many_calls_give_exactly_one_row_each(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1002", member_name="b")
    linkedids = [
        await rig.sim.place_inbound_call(f"1380013{8000 + i}", answer_after=0.5, talk_seconds=3)
        for i in range(12)
    ]
    await rig.settle()
    async with rig.database.session() as session:
        count = await session.scalar(select(func.count()).select_from(Call))
    rows = {c.linkedid: c for c in await rig.calls()}
    assert count == len(linkedids) == len(rows)
    assert all(rows[i].ended_at is not None for i in linkedids)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_killed_simulator_replaced_by_a_new_one(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    linkedid = await rig.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=60)
    await until(lambda: any(isinstance(e, CallAnswered) for e in rig.events))
    port = found(rig.sim.address, "the simulator's address")[1]
    await rig.sim.stop()  # the PBX process dies mid-call
    await until(lambda: not rig.bridge.client.connected)
    rig.sim = PbxSimulator(
        SimulatorConfig(
            port=port,
            user="callcentre",
            secret="test-secret",
            time_scale=SCALE,
            seed=8,
            recordings_dir=rig.tmp_path / "recordings",
        ),
        clock=SystemClock(),
    )
    await rig.sim.start()
    await until(lambda: rig.bridge.client.connections >= 2)
    await rig.settle()
    [call] = await rig.calls()
    assert call.linkedid == linkedid and call.ended_at and call.end_inferred
    assert call.outcome == "answered"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_calls_picked_up_by_a_resync_recover_their_variables(rig: Rig) -> None:
    await rig.bridge.queue_add(queue="service", interface="PJSIP/1001", member_name="a")
    await rig.bridge.drain()
    await rig.stop_bridge()
    linkedid = await rig.sim.place_inbound_call("13800138000", answer_after=0.5, talk_seconds=40)
    await asyncio.sleep(1.0)  # answered and recording while no bridge is watching
    await rig.start_bridge()  # this call is new to it: adopted from CoreShowChannels
    await until(
        lambda: any(
            c.linkedid == linkedid and c.recording_agent for c in rig.bridge.tracker.live_calls()
        ),
        timeout=10,
    )
    [live] = [c for c in rig.bridge.tracker.live_calls() if c.linkedid == linkedid]
    assert live.direction == "inbound" and live.recording_customer
    await rig.settle()
    [call] = await rig.calls()
    assert call.recording_agent and call.answered_at and call.ended_at


class _ListingPbx:
    """Stands for the AMI client: keeps each list action's completion, for the test to answer
    when it chooses (after events that came in while the list was being sent)."""

    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}
        self.connected = True

    async def send(self, action: dict[str, str], **kwargs: Any) -> None:
        self.pending[action["Action"]] = kwargs["on_complete"]


@pytest.mark.parametrize(
    "name", ["callback_agent_first_answered", "outbound_callback_dial_bridged"]
)
async def test_a_call_hanging_up_while_the_pbx_lists_its_channels_ends_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Issue 19: agents told `ended` twice for agent-first callbacks on a busy day. The
    bridge's resync asks for the live channels; the call's Hangups arrive before the list
    completes, so they are applied first and the list still names the channels. The call ends
    once, through the next resync too."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never stored
    bus = LocalBus()
    ended: list[CallEnded] = []

    async def record(event: CallEnded) -> None:
        ended.append(event)

    bus.subscribe(record, name="ended", types=(CallEnded,))
    settings = load_settings(database_url=database.url)
    bridge = Bridge(settings, database, bus, clock=SystemClock(), records_calls=False)
    pbx = _ListingPbx()
    monkeypatch.setattr(bridge, "client", pbx)
    consumer = asyncio.create_task(bridge._consume())
    messages = [m for m in read_capture((FIXTURES / f"{name}.txt").read_bytes()) if "Event" in m]
    first_hangup = next(i for i, m in enumerate(messages) if m.get("Event") == "Hangup")
    try:
        for message in messages[:first_hangup]:
            bridge._on_event(message)
        await bridge.resync()  # the PBX starts listing the channels up now...
        await bridge._fifo.join()
        listed = [
            Message(
                {
                    "Event": "CoreShowChannel",
                    "Channel": c.name,
                    "Uniqueid": uid,
                    "Linkedid": linkedid,
                }
            )
            for linkedid, call in bridge.tracker._open.items()
            for uid, c in call.channels.items()
            if not c.hung_up
        ]
        assert listed
        for message in messages[first_hangup:]:  # ...the hangups come in meanwhile...
            bridge._on_event(message)
        success = Message({"Response": "Success", "EventList": "start"})
        pbx.pending["CoreShowChannels"]([success, *listed])  # ...and then the list ends
        await bridge._fifo.join()
        assert bridge.tracker.live_calls() == []
        await bridge.resync()  # the next periodic resync: nothing is live
        pbx.pending["CoreShowChannels"]([success])
        await bridge._fifo.join()
        await bus.drain()
        assert len(ended) == 1 and not ended[0].record.end_inferred
    finally:
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await bus.close()
        await database.dispose()
