"""The agent console's call controls against the PBX simulator over a real AMI socket: the
exact actions the server sends (Asterisk 22's fields), what the simulated Asterisk does with
them, and what the tracker makes of the events: one call, its transfer chain, a hold that
does not end it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from crm.clock import FixedClock
from crm.db import Database
from crm.stopping import stop_task
from telephony import contract
from telephony.agent_sync import AgentPbxSync
from telephony.call_controls import (
    CallControls,
    CallPhase,
    ControlKind,
    ControlRefused,
    ControlRequest,
    Refusal,
    TargetKind,
    TransferTarget,
)
from telephony.events import CallRecord
from telephony.pbx_requests import PbxCommandServer, RemotePbx, commands_stream
from telephony.pbx_sim.wire import Message
from tests.support.pbx_rig import PbxRig, pbx_rig
from tests.support.redis import RedisServer
from tests.support.waiting import until

CALLER = "13800138000"
CONTROL_ACTIONS = ("Hangup", "Setvar", "Redirect", "BlindTransfer", "Originate")


@pytest.fixture
async def rig(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[PbxRig]:
    database = Database(sqlite_url)
    try:
        async with pbx_rig(
            database,
            tmp_path,
            clock,
            sim={
                "talk_seconds": None,  # nobody hangs up by plan: the test does
                "static_members": {"service": ["1001"]},
                "answer_delays": {"1001": 1.0, "1002": 1.0, "1003": None},
            },
        ) as running:
            yield running
    finally:
        await database.dispose()


def sent(rig: PbxRig) -> list[Message]:
    """The control actions the simulated Asterisk received, in order."""
    return [m for m in rig.sim.received if m.action in CONTROL_ACTIONS]


def headers(message: Message) -> dict[str, str]:
    return {name: value for name, value in message.fields if name != "ActionID"}


async def answered_call(rig: PbxRig, controls: CallControls) -> str:
    linkedid = await rig.sim.place_inbound_call(CALLER)
    await until(lambda: _phase(controls, linkedid, "1001") is CallPhase.TALKING)
    rig.sim.received.clear()
    return linkedid


def _phase(controls: CallControls, linkedid: str, extension: str) -> CallPhase | None:
    try:
        return controls.state(linkedid, extension).phase
    except ControlRefused:
        return None


def channel_of(rig: PbxRig, prefix: str) -> str:
    return next(c.name for c in rig.sim.pbx.channels if c.name.startswith(prefix))


async def ended(rig: PbxRig, linkedid: str) -> CallRecord:
    await until(lambda: rig.bridge.tracker.ended(linkedid), timeout=15)
    [record] = [r for r in rig.bridge.tracker.recent_calls() if r.linkedid == linkedid]
    return record


async def test_hold_and_resume_keep_one_call_and_send_asterisks_redirects(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer, agent = channel_of(rig, "PJSIP/trunk-"), channel_of(rig, "PJSIP/1001-")

    held = await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
    assert held.phase is CallPhase.HELD
    assert ControlKind.RESUME in held.allowed and ControlKind.HOLD not in held.allowed
    [redirect] = sent(rig)
    assert headers(redirect) == {
        "Action": "Redirect",
        "Channel": customer,
        "Context": contract.CONTEXT_HOLD,
        "Exten": linkedid,
        "Priority": "1",
        "ExtraChannel": agent,
        "ExtraContext": contract.CONTEXT_ROOM,
        "ExtraExten": linkedid,
        "ExtraPriority": "1",
    }
    # The customer hears music in cc-hold; the agent waits alone in the call's room.
    sim_customer = rig.sim.pbx.channels.get(customer)
    assert sim_customer is not None and sim_customer.application == "MusicOnHold"
    room = rig.sim.pbx.rooms[linkedid]
    assert [u.channel.name for u in room.users] == [agent]
    [live] = rig.bridge.tracker.live_calls()
    assert live.linkedid == linkedid and live.outcome is None  # the hold ended nothing

    rig.sim.received.clear()
    resumed = await controls.apply(ControlRequest(linkedid, ControlKind.RESUME, "1001"))
    assert resumed.phase is CallPhase.TALKING
    [back] = sent(rig)
    assert headers(back) == {
        "Action": "Redirect",
        "Channel": customer,
        "Context": contract.CONTEXT_ROOM_CUSTOMER,
        "Exten": linkedid,
        "Priority": "1",
    }
    assert {u.channel.name for u in room.users} == {agent, customer}

    # On hold again, now from the room: only the customer moves.
    rig.sim.received.clear()
    await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
    [again] = sent(rig)
    assert "ExtraChannel" not in headers(again)
    await controls.apply(ControlRequest(linkedid, ControlKind.RESUME, "1001"))

    # The agent hangs up in the room: the customer (end_marked) leaves with them.
    rig.sim.received.clear()
    done = await controls.apply(ControlRequest(linkedid, ControlKind.HANGUP, "1001"))
    assert done.phase is CallPhase.ENDED
    assert [headers(m) for m in sent(rig)] == [
        {"Action": "Hangup", "Channel": agent, "Cause": "16"}
    ]
    record = await ended(rig, linkedid)
    assert (record.outcome, record.hung_up_by, record.agents_connected) == (
        "answered",
        "agent",
        ("PJSIP/1001",),
    )
    assert [r.linkedid for r in rig.bridge.tracker.recent_calls()] == [linkedid]
    assert linkedid not in rig.sim.pbx.rooms


async def test_customer_hanging_up_on_hold_ends_the_agents_wait_too(rig: PbxRig) -> None:
    """[cc-hold]'s h extension kicks whoever waits in the room (ConfKick)."""
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer, agent = channel_of(rig, "PJSIP/trunk-"), channel_of(rig, "PJSIP/1001-")
    await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
    await rig.bridge.client.send_checked({"Action": "Hangup", "Channel": customer})
    record = await ended(rig, linkedid)
    assert rig.sim.pbx.channels.get(agent) is None
    assert (record.outcome, record.hung_up_by) == ("answered", "customer")


async def test_mute_writes_muteaudio_on_the_agents_phone(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    agent = channel_of(rig, "PJSIP/1001-")
    muted = await controls.apply(ControlRequest(linkedid, ControlKind.MUTE, "1001"))
    assert muted.muted and ControlKind.UNMUTE in muted.allowed
    phone = rig.sim.pbx.channels.get(agent)
    assert phone is not None and phone.muted == {"in"}
    unmuted = await controls.apply(ControlRequest(linkedid, ControlKind.UNMUTE, "1001"))
    assert not unmuted.muted and ControlKind.MUTE in unmuted.allowed
    assert phone.muted == set()
    assert [headers(m) for m in sent(rig)] == [
        {"Action": "Setvar", "Channel": agent, "Variable": "MUTEAUDIO(in)", "Value": value}
        for value in ("on", "off")
    ]
    with pytest.raises(ControlRefused) as refused:
        await controls.apply(ControlRequest(linkedid, ControlKind.UNMUTE, "1001"))
    assert refused.value.refusal is Refusal.NOT_NOW


async def test_blind_transfer_while_talking_is_asterisks_blindtransfer(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    agent = channel_of(rig, "PJSIP/1001-")
    target = TransferTarget(TargetKind.EXTENSION, "1002")
    await controls.apply(ControlRequest(linkedid, ControlKind.TRANSFER, "1001", target))
    [transfer] = sent(rig)
    assert headers(transfer) == {
        "Action": "BlindTransfer",
        "Channel": agent,
        "Context": contract.CONTEXT_TRANSFER,
        "Exten": "1002",
    }
    await until(lambda: _phase(controls, linkedid, "1002") is CallPhase.TALKING)
    customer = channel_of(rig, "PJSIP/trunk-")
    await rig.bridge.client.send_checked({"Action": "Hangup", "Channel": customer})
    record = await ended(rig, linkedid)
    assert record.agents_connected == ("PJSIP/1001", "PJSIP/1002")
    assert (record.outcome, record.agent_extension, record.hung_up_by) == (
        "answered",
        "1001",
        "customer",
    )
    assert sorted(record.agents_rung) == ["PJSIP/1001", "PJSIP/1002"]


async def test_blind_transfer_from_hold_to_a_queue(rig: PbxRig) -> None:
    """Held: the customer is Redirected to q-<queue>@cc-transfer and the agent hung up; the
    queue's next agent continues the same call."""
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer, agent = channel_of(rig, "PJSIP/trunk-"), channel_of(rig, "PJSIP/1001-")
    await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
    rig.sim.received.clear()
    await rig.bridge.client.send_checked(
        {"Action": "QueueAdd", "Queue": "callbacks", "Interface": "PJSIP/1002"}
    )
    target = TransferTarget(TargetKind.QUEUE, "callbacks")
    await controls.apply(ControlRequest(linkedid, ControlKind.TRANSFER, "1001", target))
    assert [headers(m) for m in sent(rig)] == [
        {"Action": "Redirect", "Channel": customer, "Context": contract.CONTEXT_TRANSFER,
         "Exten": "q-callbacks", "Priority": "1"},
        {"Action": "Hangup", "Channel": agent, "Cause": "16"},
    ]  # fmt: skip
    await until(lambda: _phase(controls, linkedid, "1002") is CallPhase.TALKING)
    await rig.bridge.client.send_checked(
        {"Action": "Hangup", "Channel": channel_of(rig, "PJSIP/1002-")}
    )
    record = await ended(rig, linkedid)
    assert record.agents_connected == ("PJSIP/1001", "PJSIP/1002")
    assert (record.outcome, record.hung_up_by) == ("answered", "agent")


async def test_consult_then_complete_hands_the_call_to_the_colleague(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer, agent = channel_of(rig, "PJSIP/trunk-"), channel_of(rig, "PJSIP/1001-")
    target = TransferTarget(TargetKind.EXTENSION, "1002")
    consulting = await controls.apply(
        ControlRequest(linkedid, ControlKind.CONSULT, "1001", target, caller_id='"Li" <1001>')
    )
    assert consulting.phase is CallPhase.CONSULTING and consulting.added_party == "1002"
    hold, originate = sent(rig)
    assert headers(hold)["Action"] == "Redirect" and headers(hold)["ExtraChannel"] == agent
    fields = headers(originate)
    channel_id = fields.pop("ChannelId")
    assert channel_id.startswith("cc-")
    assert fields == {
        "Action": "Originate",
        "Channel": f"Local/1002@{contract.CONTEXT_TRANSFER}/n",
        "Context": contract.CONTEXT_ROOM,
        "Exten": linkedid,
        "Priority": "1",
        "Timeout": "90000",
        "OtherChannelId": f"{channel_id};2",
        "Async": "true",
        "CallerID": '"Li" <1001>',
    }
    # The colleague's phone rings as part of this call (a pop), and answers.
    await until(lambda: any(leg.bridged for leg in controls._view(linkedid, "1001").added))
    with pytest.raises(ControlRefused):  # still consulting: no second consult
        await controls.apply(ControlRequest(linkedid, ControlKind.CONSULT, "1001", target))
    rig.sim.received.clear()
    done = await controls.apply(ControlRequest(linkedid, ControlKind.COMPLETE, "1001"))
    assert done.phase is CallPhase.ENDED
    assert [headers(m) for m in sent(rig)] == [
        {"Action": "Redirect", "Channel": customer, "Context": contract.CONTEXT_ROOM_CUSTOMER,
         "Exten": linkedid, "Priority": "1"},
        {"Action": "Hangup", "Channel": agent, "Cause": "16"},
    ]  # fmt: skip
    assert controls.state(linkedid, "1002").phase is CallPhase.TALKING
    assert controls.state(linkedid, None).agent_extension == "1002"  # the call is theirs
    [live] = rig.bridge.tracker.live_calls()
    assert live.linkedid == linkedid and live.agents_connected == ("PJSIP/1001", "PJSIP/1002")
    await rig.bridge.client.send_checked({"Action": "Hangup", "Channel": customer})
    record = await ended(rig, linkedid)
    assert [r.linkedid for r in rig.bridge.tracker.recent_calls()] == [linkedid]
    assert (record.outcome, record.hung_up_by, record.agent_extension) == (
        "answered",
        "customer",
        "1001",
    )
    assert sorted(record.agents_rung) == ["PJSIP/1001", "PJSIP/1002"]
    # The colleague's phone rang as this call's: the pop went to 1002 with this linkedid.
    rung = [e for e in rig.events if type(e).__name__ == "AgentRinging"]
    assert {(e.linkedid, e.extension) for e in rung} == {(linkedid, "1001"), (linkedid, "1002")}


async def test_consult_cancelled_puts_the_customer_back(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    target = TransferTarget(TargetKind.EXTENSION, "1003")  # rings, nobody answers
    await controls.apply(ControlRequest(linkedid, ControlKind.CONSULT, "1001", target))
    with pytest.raises(ControlRefused) as early:
        await controls.apply(ControlRequest(linkedid, ControlKind.COMPLETE, "1001"))
    assert early.value.refusal is Refusal.NOT_NOW
    back = await controls.apply(ControlRequest(linkedid, ControlKind.CANCEL, "1001"))
    assert back.phase is CallPhase.TALKING and back.added_party is None
    assert not any(c.name.startswith("PJSIP/1003-") for c in rig.sim.pbx.channels)
    customer = channel_of(rig, "PJSIP/trunk-")
    await rig.bridge.client.send_checked({"Action": "Hangup", "Channel": customer})
    record = await ended(rig, linkedid)
    assert record.agents_connected == ("PJSIP/1001",)
    assert record.outcome == "answered"


async def test_three_way_conference_then_the_agent_leaves(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer, agent = channel_of(rig, "PJSIP/trunk-"), channel_of(rig, "PJSIP/1001-")
    target = TransferTarget(TargetKind.EXTENSION, "1002")
    await controls.apply(ControlRequest(linkedid, ControlKind.CONFERENCE, "1001", target))
    into_room, originate = sent(rig)
    assert headers(into_room) == {
        "Action": "Redirect",
        "Channel": customer,
        "Context": contract.CONTEXT_ROOM_CUSTOMER,
        "Exten": linkedid,
        "Priority": "1",
        "ExtraChannel": agent,
        "ExtraContext": contract.CONTEXT_ROOM,
        "ExtraExten": linkedid,
        "ExtraPriority": "1",
    }
    assert headers(originate)["Channel"] == f"Local/1002@{contract.CONTEXT_TRANSFER}/n"
    await until(lambda: _phase(controls, linkedid, "1001") is CallPhase.CONFERENCE)
    room = rig.sim.pbx.rooms[linkedid]
    assert len(room.users) == 3
    [live] = rig.bridge.tracker.live_calls()
    assert live.agents_connected == ("PJSIP/1001", "PJSIP/1002")
    await controls.apply(ControlRequest(linkedid, ControlKind.HANGUP, "1001"))
    await until(lambda: _phase(controls, linkedid, "1002") is CallPhase.TALKING)
    await rig.bridge.client.send_checked(
        {"Action": "Hangup", "Channel": channel_of(rig, "PJSIP/1002-")}
    )
    record = await ended(rig, linkedid)
    assert rig.sim.pbx.channels.get(customer) is None  # the last agent left: so did they
    assert (record.outcome, record.hung_up_by, record.agents_connected) == (
        "answered",
        "agent",
        ("PJSIP/1001", "PJSIP/1002"),
    )


async def test_refusals(rig: PbxRig) -> None:
    controls = CallControls(rig.bridge)
    with pytest.raises(ControlRefused) as none:
        controls.state("1.1", "1001")
    assert none.value.refusal is Refusal.NO_LIVE_CALL
    linkedid = await answered_call(rig, controls)
    with pytest.raises(ControlRefused) as stranger:
        await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1009"))
    assert stranger.value.refusal is Refusal.NOT_ON_CALL
    with pytest.raises(ControlRefused) as untargeted:
        await controls.apply(ControlRequest(linkedid, ControlKind.TRANSFER, "1001"))
    assert untargeted.value.refusal is Refusal.NEEDS_TARGET
    with pytest.raises(ControlRefused) as not_held:
        await controls.apply(ControlRequest(linkedid, ControlKind.RESUME, "1001"))
    assert not_held.value.refusal is Refusal.NOT_NOW
    assert sent(rig) == []
    await controls.apply(ControlRequest(linkedid, ControlKind.HANGUP, "1001"))
    await ended(rig, linkedid)
    with pytest.raises(ControlRefused) as over:
        await controls.apply(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
    assert over.value.refusal is Refusal.CALL_ENDED
    with pytest.raises(ValueError):
        TransferTarget(TargetKind.EXTENSION, "1002,1")  # never reaches the dialplan


async def test_a_web_process_controls_the_call_through_the_bridge(
    rig: PbxRig, redis_server: RedisServer
) -> None:
    """Several processes: the web asks the bridge's CallControls over Redis
    (telephony/pbx_requests.py) and gets the same states and refusals."""
    redis = Redis.from_url(redis_server.url, decode_responses=True)
    server = PbxCommandServer(redis, rig.bridge, AgentPbxSync(rig.bridge, rig.settings),
                              block_ms=100)  # fmt: skip
    serving = asyncio.create_task(server.run())
    try:

        async def listening() -> bool:  # the bridge made its consumer group
            return bool(await redis.exists(commands_stream(rig.settings.pbx_id)))

        await until(listening)
        remote = RemotePbx(redis, rig.settings.pbx_id, clock=rig.clock)
        linkedid = await answered_call(rig, server.controls)
        state = await remote.call_control_state(linkedid, "1001")
        assert state.phase is CallPhase.TALKING
        held = await remote.call_control(ControlRequest(linkedid, ControlKind.HOLD, "1001"))
        assert held.phase is CallPhase.HELD and ControlKind.RESUME in held.allowed
        assert [m.action for m in sent(rig)] == ["Redirect"]
        with pytest.raises(ControlRefused) as refused:
            await remote.call_control(ControlRequest(linkedid, ControlKind.HOLD, "1002"))
        assert refused.value.refusal is Refusal.NOT_ON_CALL
        target = TransferTarget(TargetKind.NUMBER, "13900139000")
        transferred = await remote.call_control(
            ControlRequest(linkedid, ControlKind.TRANSFER, "1001", target)
        )
        assert transferred.phase is CallPhase.ENDED  # the agent's part is over
        assert [m.action for m in sent(rig)][-2:] == ["Redirect", "Hangup"]
    finally:
        await stop_task(serving)  # redis-py may swallow one cancel
        await redis.aclose()


async def test_the_simulators_refusals_are_asterisks_words(rig: PbxRig) -> None:
    """Redirect (manager.c action_redirect), Setvar of MUTEAUDIO (res_mutestream) and
    Originate's ChannelId (AST_MAX_PUBLIC_UNIQUEID) refuse as Asterisk 22 does."""
    controls = CallControls(rig.bridge)
    linkedid = await answered_call(rig, controls)
    customer = channel_of(rig, "PJSIP/trunk-")

    async def answer(**fields: str) -> tuple[str, str]:
        reply = await rig.bridge.client.send(fields, as_list=False)
        return str(reply.get("Response")), str(reply.get("Message"))

    redirect = {"Action": "Redirect", "Channel": customer, "Context": "cc-hold", "Exten": "x"}
    for fields, message in (
        ({**redirect, "Channel": ""}, "Channel not specified"),
        ({**redirect, "Context": ""}, "Context not specified"),
        ({**redirect, "Exten": ""}, "Exten not specified"),
        (redirect, "Priority not specified"),
        ({**redirect, "Priority": "0"}, "Priority is invalid"),
        ({**redirect, "Priority": "1", "Channel": "PJSIP/9-00000099"},
         "Channel does not exist: PJSIP/9-00000099"),
        ({**redirect, "Priority": "1", "ExtraChannel": "PJSIP/9-00000099",
          "ExtraContext": "cc-room"}, "ExtraExten not specified"),
        ({**redirect, "Priority": "1", "ExtraChannel": "PJSIP/9-00000099",
          "ExtraContext": "cc-room", "ExtraExten": "1", "ExtraPriority": "1"},
         "ExtraChannel does not exist: PJSIP/9-00000099"),
    ):  # fmt: skip
        assert await answer(**fields) == ("Error", message), fields
    mute = {"Action": "Setvar", "Channel": customer, "Value": "on"}
    assert await answer(**mute, Variable="MUTEAUDIO(sideways)") == ("Error", "Variable not set")
    assert await answer(**mute, Variable="NOSUCHFUNC(in)") == ("Error", "Variable not set")
    assert await answer(**mute, Variable="MUTEAUDIO(all)") == ("Success", "Variable Set")
    sim_customer = rig.sim.pbx.channels.get(customer)
    assert sim_customer is not None and sim_customer.muted == {"in", "out"}
    assert not [m for m in rig.sim.received if m.get("Variable").startswith("MUTEAUDIO")
                and m.action == "VarSet"]  # fmt: skip
    originate = {
        "Action": "Originate", "Channel": "Local/1002@cc-transfer/n", "Context": "cc-room",
        "Exten": linkedid, "Priority": "1", "Async": "true", "ChannelId": "x" * 150,
    }  # fmt: skip
    response, message = await answer(**originate)
    assert response == "Error"
    assert message.startswith("Uniqueid length exceeds maximum of 149")  # manager.c's words
    # Nothing of it changed the call.
    assert controls.state(linkedid, "1001").phase is CallPhase.TALKING
