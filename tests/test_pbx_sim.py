"""The PBX simulator's AMI protocol, queue administration, live queries and fault injection,
checked over real TCP against the captures of Asterisk 22.10.1."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from crm.clock import SystemClock
from telephony.pbx_sim import SimulatorConfig, StaticMember, run_simulator
from telephony.pbx_sim.wire import ActionReader
from tests.conftest import FIXTURES
from tests.test_pbx_sim_support import (
    Msg,
    RawAmi,
    address,
    capture,
    field_sets,
    lab_transcript,
    running,
    sent_bytes,
    split_raw,
)


async def _transcript(sim_address: tuple[str, int], scenario: str) -> bytes:
    """Send a capture's `.sent.txt` bytes as they are and return everything received."""
    reader, writer = await asyncio.open_connection(*sim_address)
    writer.write(sent_bytes(scenario))
    try:
        return await asyncio.wait_for(reader.read(), 10)  # until the server closes
    finally:
        writer.close()


def _normalised(data: bytes) -> list[list[tuple[str, str]]]:
    return [Msg.parse(raw).normalised() for raw in split_raw(data)]


# -- the protocol, byte for byte ----------------------------------------------------------


async def test_bad_secret_gets_asterisks_exact_bytes_then_the_socket_closes(tmp_path: Path):
    async with running(tmp_path, secret="test") as sim:
        received = await _transcript(address(sim), "login_bad_secret")
    assert received == (FIXTURES / "login_bad_secret.txt").read_bytes()


async def test_login_ping_coresettings_logoff_transcript_matches_the_capture(tmp_path: Path):
    async with running(tmp_path, secret="test") as sim:
        received = await _transcript(address(sim), "login_ok")
    assert received.startswith(b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\n")
    assert _normalised(received) == [m.normalised() for m in capture("login_ok")]
    assert received.endswith(
        b"Response: Goodbye\r\nActionID: login_ok-2\r\nMessage: Thanks for all the fish.\r\n\r\n"
    )


async def test_unknown_actions_and_failing_actions_are_worded_like_asterisk(tmp_path: Path):
    async with running(tmp_path, secret="test") as sim:
        received = await _transcript(address(sim), "unknown_action")
    assert _normalised(received) == [m.normalised() for m in capture("unknown_action")]


async def test_queue_status_and_summary_framing_is_identical_to_the_capture(tmp_path: Path):
    members = {
        "service": [
            StaticMember("Local/1001@agents/n", "Agent 1001"),
            StaticMember("Local/1002@agents/n", "Agent 1002"),
        ],
        "sales": [StaticMember("Local/1003@agents/n", "Agent 1003")],
    }
    async with running(
        tmp_path, secret="test", queues=("service", "sales"), static_members=members
    ) as sim:
        for queue in sim.pbx.queues.values():
            for member in queue.members.values():
                member.login_time = 1795438120  # the capture's boot
        received = await _transcript(address(sim), "queue_status_idle")
    ours, theirs = _normalised(received), [m.normalised() for m in capture("queue_status_idle")]
    assert ours == theirs
    expected = (FIXTURES / "queue_status_idle.txt").read_bytes()
    span = (b"Response: Success\r\nActionID: qstatus-1", b"Response: Error\r\nActionID: queues-1")
    assert _between(received, *span) == _between(expected, *span)


def _between(data: bytes, start: bytes, end: bytes) -> bytes:
    return data[data.index(start) : data.index(end)]


async def test_actions_before_login_are_refused_and_any_action_echoes_its_action_id(
    tmp_path: Path,
):
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim), login=False)
        assert ami.banner == b"Asterisk Call Manager/11.0.0\r\n"
        refused = await ami.action("Ping", ActionID="early")
        assert refused.fields == [
            ("Response", "Error"),
            ("ActionID", "early"),
            ("Message", "Permission denied"),
        ]
        ami.writer.write(b"Action: Login\nUsername: callcentre\nSecret: callcentre\n\n")
        answer = await ami.next_message()
        assert answer.fields == [("Response", "Success"), ("Message", "Authentication accepted")]
        pong = await ami.action("Ping", ActionID="abc 123")
        assert pong.keys == ("Response", "ActionID", "Ping", "Timestamp")
        assert pong["ActionID"] == "abc 123" and pong["Ping"] == "Pong"
        ami.close()


async def test_events_go_to_every_logged_in_session_but_not_to_events_off(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        first = await RawAmi.connect(address(sim))
        second = await RawAmi.connect(address(sim))
        quiet = await RawAmi.connect(address(sim), login=False)
        await quiet.action("Login", Username="callcentre", Secret="callcentre", Events="off")
        linkedid = await sim.place_inbound_call("13800138000", talk_seconds=1, hangup_by="caller")
        for ami in (first, second):
            await ami.wait_event(lambda m: m.is_event("Newchannel", Linkedid=linkedid))
        await quiet.drain_for(0.3)
        assert quiet.events("Newchannel") == []
        for ami in (first, second, quiet):
            ami.close()


def test_action_reader_accepts_split_chunks_and_bare_newlines():
    reader = ActionReader()
    assert reader.feed(b"Action: Ping\r\nActionID: 1") == []
    messages = reader.feed(b"\r\n\r\nAction: Originate\nVariable: A=1\nVariable: B=2\n\n")
    assert [m.action for m in messages] == ["Ping", "Originate"]
    assert messages[0].action_id == "1"
    assert messages[1].get_all("variable") == ["A=1", "B=2"]


# -- queues -------------------------------------------------------------------------------


async def test_queue_add_pause_remove_answers_and_events(tmp_path: Path):
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        added = await ami.action(
            "QueueAdd", Queue="service", Interface="PJSIP/1001", MemberName="Agent 1001"
        )
        assert added.get("Message") == "Added interface to queue"
        event = await ami.wait_event(lambda m: m.is_event("QueueMemberAdded"))
        assert event.keys == capture_shape("QueueMemberStatus")
        assert (event["Interface"], event["Membership"], event["Status"]) == (
            "PJSIP/1001",
            "dynamic",
            "1",
        )
        again = await ami.action("QueueAdd", Queue="service", Interface="PJSIP/1001")
        assert again.get("Message") == "Unable to add interface: Already there"
        nowhere = await ami.action("QueueAdd", Queue="nosuch", Interface="PJSIP/1001")
        assert nowhere.get("Message") == "Unable to add interface to queue: No such queue"

        paused = await ami.action(
            "QueuePause", Queue="service", Interface="PJSIP/1001", Paused="true", Reason="lunch"
        )
        assert paused.get("Message") == "Interface paused successfully"
        pause_event = await ami.wait_event(lambda m: m.is_event("QueueMemberPause"))
        assert (pause_event["Paused"], pause_event["PausedReason"]) == ("1", "lunch")
        _, items = await ami.list_action("QueueStatus", Queue="service")
        member = next(m for m in items if m.name == "QueueMember")
        assert (member["Paused"], member["PausedReason"]) == ("1", "lunch")
        _, summary = await ami.list_action("QueueSummary", Queue="service")
        assert (summary[0]["LoggedIn"], summary[0]["Available"]) == ("1", "0")
        unpaused = await ami.action("QueuePause", Interface="PJSIP/1001", Paused="false")
        assert unpaused.get("Message") == "Interface unpaused successfully"
        missing = await ami.action("QueuePause", Interface="PJSIP/9999", Paused="true")
        assert missing.get("Message") == "Interface not found"

        removed = await ami.action("QueueRemove", Queue="service", Interface="PJSIP/1001")
        assert removed.get("Message") == "Removed interface from queue"
        await ami.wait_event(lambda m: m.is_event("QueueMemberRemoved", Interface="PJSIP/1001"))
        gone = await ami.action("QueueRemove", Queue="service", Interface="PJSIP/1001")
        assert gone.get("Message") == "Unable to remove interface: Not there"
        ami.close()


def capture_shape(event: str) -> tuple[str, ...]:
    """The header names Asterisk 22 sent with one event type (member events share them)."""
    shapes = field_sets(capture("inbound_queue_answered"))[event]
    assert len(shapes) == 1
    keys = next(iter(shapes))
    return keys


async def test_static_members_cannot_be_removed(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        answer = await ami.action("QueueRemove", Queue="service", Interface="PJSIP/1001")
        assert answer.get("Message") == "Member not dynamic"
        ami.close()


async def test_a_paused_member_is_not_rung(tmp_path: Path):
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        for extension in ("1001", "1002"):
            await ami.action("QueueAdd", Queue="service", Interface=f"PJSIP/{extension}")
        await ami.action("QueuePause", Interface="PJSIP/1002", Paused="yes")
        linkedid = await sim.place_inbound_call("13800138000", talk_seconds=2, hangup_by="agent")
        await ami.wait_event(lambda m: m.is_event("AgentComplete", Linkedid=linkedid))
        called = [m["Interface"] for m in ami.events("AgentCalled")]
        assert called == ["PJSIP/1001"]
        ami.close()


# -- live calls -----------------------------------------------------------------------------


async def test_live_queries_getvar_setvar_and_hangup_during_a_waiting_call(tmp_path: Path):
    live = {m.name: m for m in capture("live_call_queries") if m.kind == "Event"}
    async with running(
        tmp_path, static_members={"service": ["1001"]}, answer_delays={"1001": None}
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138002")
        ringing = await ami.wait_event(lambda m: m.is_event("DialState", Linkedid=linkedid))
        caller = ringing["Channel"]
        assert caller.startswith("PJSIP/trunk-") and ringing["DestChannel"].startswith(
            "PJSIP/1001-"
        )

        answer, items = await ami.list_action("QueueStatus", Queue="service")
        assert answer.get("Message") == "Queue status will follow"
        assert [m.name for m in items] == [
            "QueueParams",
            "QueueMember",
            "QueueEntry",
            "QueueStatusComplete",
        ]
        for item in items[:-1]:
            assert item.keys == live[item.name].keys
        entry = items[2]
        assert (entry["Channel"], entry["CallerIDNum"], entry["Position"]) == (
            caller,
            "13800138002",
            "1",
        )
        assert items[1]["Status"] == "3"  # busy: the phone rings (device_state_busy_at = 1)
        _, summary = await ami.list_action("QueueSummary", Queue="service")
        assert summary[0].keys == live["QueueSummary"].keys and summary[0]["Callers"] == "1"

        answer, channels = await ami.list_action("CoreShowChannels")
        assert answer.get("Message") == "Channels will follow"
        shown = {m["Channel"]: m for m in channels[:-1]}
        assert caller in shown and ringing["DestChannel"] in shown
        assert channels[-1]["ListItems"] == "2"
        assert shown[caller].keys == live["CoreShowChannel"].keys
        assert shown[caller]["Application"] == "Queue"
        assert shown[ringing["DestChannel"]]["Application"] == "AppQueue"

        _, status = await ami.list_action("Status", Channel=caller)
        assert status[0].keys == live["Status"].keys
        assert status[-1].keys == live["StatusComplete"].keys

        number = await ami.action("Getvar", Channel=caller, Variable="CC_CUSTOMER_NUMBER")
        assert number.keys == ("Response", "ActionID", "Variable", "Value")
        assert number["Value"] == "13800138002"
        stored = await ami.action("Setvar", Channel=caller, Variable="CRM_TICKET", Value="TK-7")
        assert stored.get("Message") == "Variable Set"
        await ami.wait_event(lambda m: m.is_event("VarSet", Variable="CRM_TICKET", Value="TK-7"))
        again = await ami.action("Getvar", Channel=caller, Variable="CRM_TICKET")
        assert again["Value"] == "TK-7"
        recording = await ami.action("MixMonitor", Channel=caller, File="extra.wav")
        assert recording.fields == [("Response", "Success"), ("ActionID", recording["ActionID"])]

        hung = await ami.action("Hangup", Channel=caller)
        assert hung.get("Message") == "Channel Hungup"
        await ami.wait_event(lambda m: m.is_event("SoftHangupRequest", Channel=caller))
        abandon = await ami.wait_event(lambda m: m.is_event("QueueCallerAbandon"))
        assert abandon.keys == live["QueueCallerAbandon"].keys
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=caller))
        missing = await ami.action("Hangup", Channel=caller)
        assert missing.get("Message") == "No such channel"
        ami.close()


# -- fault injection --------------------------------------------------------------------------


async def test_drop_connections_resets_every_client_and_new_ones_are_served(tmp_path: Path):
    async with running(tmp_path) as sim:
        clients = [await RawAmi.connect(address(sim)) for _ in range(3)]
        control = await RawAmi.connect(address(sim), login=False)
        await control.action("SimDropConnections")
        for ami in clients:
            assert await ami.closed(timeout=2)
        fresh = await RawAmi.connect(address(sim))
        assert (await fresh.action("Ping"))["Ping"] == "Pong"
        sim.drop_connections()  # the Python API does the same
        assert await fresh.closed(timeout=2)


async def test_silence_answers_nothing_until_released(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        client = await RawAmi.connect(address(sim))
        control = await RawAmi.connect(address(sim), login=False)
        silenced = await control.action("SimSilence", Silent="on")
        assert silenced["Response"] == "Success"
        client.send("Ping", ActionID="unanswered")
        await sim.place_inbound_call("13800138000", talk_seconds=1)
        await client.drain_for(0.4)
        assert client.log[-1].name == "SuccessfulAuth"  # not a byte since the silence
        assert not client.writer.is_closing()
        await control.action("SimSilence", Silent="off")
        pong = await client.action("Ping", ActionID="after")
        assert pong["Ping"] == "Pong"
        assert all(m.get("ActionID") != "unanswered" for m in client.log)
        client.close()
        control.close()


ENDINGS = ("HangupRequest", "SoftHangupRequest", "AgentComplete", "DialEnd", "Hangup")


def _endings(messages: list[Msg], linkedid: str) -> dict[str, list[tuple[str, str]]]:
    """Per role (the agent's phone, the customer's trunk channel), how its part of a call
    ended: (event, Cause or Reason or DialStatus)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for m in messages:
        if m.name not in ENDINGS or linkedid not in (m.get("Linkedid"), m.get("DestLinkedid")):
            continue
        channel = m["DestChannel"] if m.name == "DialEnd" else m["Channel"]
        role = "agent" if channel.startswith("PJSIP/10") else "customer"
        said = m.get("Cause") or m.get("Reason") or m.get("DialStatus")
        out.setdefault(role, []).append((m.name, said))
    return out


async def test_restart_forgets_calls_resets_members_and_changes_uniqueids(tmp_path: Path):
    """SimRestart is `core restart now`, as the lab's Asterisk ran it mid-call
    (tests/data/lab_ami/pbx_restart_mid_call.txt): every channel gets a SoftHangupRequest
    whose Cause is AST_SOFTHANGUP_SHUTDOWN (4), the agent's AgentComplete says the caller
    ended, both Hangups say Normal Clearing (they left the bridge), `Shutdown` (Restart: True)
    comes last; then a fresh PBX."""
    lab = lab_transcript("pbx_restart_mid_call")
    lab = lab[next(i for i, m in enumerate(lab) if m.get("Cause") == "4") :]
    lab_call = lab[0]["Linkedid"]
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        await ami.action("QueueAdd", Queue="service", Interface="PJSIP/1002")
        linkedid = await sim.place_inbound_call("13800138000", talk_seconds=600)
        await ami.wait_event(lambda m: m.is_event("BridgeEnter", Linkedid=linkedid))
        await ami.drain_for(0.2)  # 1002's Hangup comes once its SIP session has ended
        old_epoch = int(linkedid.split(".")[0])
        live = {m["Channel"] for m in ami.events("Newchannel")} - {
            m["Channel"] for m in ami.events("Hangup")
        }

        control = await RawAmi.connect(address(sim), login=False)
        await control.action("SimRestart")
        shutdown = await ami.wait_event(lambda m: m.is_event("Shutdown"), timeout=5)
        assert (shutdown["Shutdown"], shutdown["Restart"]) == ("Cleanly", "True")
        flagged = {m["Channel"] for m in ami.events("SoftHangupRequest") if m["Cause"] == "4"}
        assert flagged == live and len(live) == 2
        assert [m["Reason"] for m in ami.events("AgentComplete")] == ["caller"]
        assert {m["Channel"] for m in ami.events("Hangup")} >= live
        assert ami.log[-1] is shutdown
        restarted = ami.log[ami.log.index(next(m for m in ami.log if m.get("Cause") == "4")) :]
        assert _endings(restarted, linkedid) == _endings(lab, lab_call) == {
            "customer": [("SoftHangupRequest", "4"), ("AgentComplete", "caller"),
                         ("SoftHangupRequest", "16"), ("Hangup", "16")],
            "agent": [("SoftHangupRequest", "4"), ("Hangup", "16")],
        }  # fmt: skip
        assert await ami.closed(timeout=2)
        await asyncio.sleep(0.05)
        ami = await RawAmi.connect(address(sim))
        booted = next(m for m in ami.log if m.name == "FullyBooted")
        assert int(booted["Uptime"]) < 60
        _, channels = await ami.list_action("CoreShowChannels")
        assert channels[-1]["ListItems"] == "0"
        _, items = await ami.list_action("QueueStatus", Queue="service")
        assert [m["Location"] for m in items if m.name == "QueueMember"] == ["PJSIP/1001"]

        new_linkedid = await sim.place_inbound_call("13900139000", talk_seconds=1)
        epoch, sequence = new_linkedid.split(".")
        assert int(epoch) > old_epoch and sequence == "0"
        first = await ami.wait_event(lambda m: m.is_event("Newchannel", Linkedid=new_linkedid))
        assert first["Channel"] == "PJSIP/trunk-00000000"
        ami.close()


async def test_restart_while_a_caller_waits_ends_both_channels_without_a_cause(tmp_path: Path):
    """`core restart now` while the phone rings for a queued caller, as the lab's Asterisk ran
    it: both channels get SoftHangupRequest 4; the member's channel, hung up while it rang,
    is a DialEnd NOANSWER and an AgentRingNoAnswer (no CANCEL); the caller is recorded as an
    abandon; neither channel had a hangup cause, so both Hangups say 0 (Unknown)."""
    async with running(
        tmp_path, static_members={"service": ["1001"]}, answer_delays={"1001": None}
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000")
        await ami.wait_event(lambda m: m.is_event("DialState", Linkedid=linkedid))
        control = await RawAmi.connect(address(sim), login=False)
        await control.action("SimRestart")
        await ami.wait_event(lambda m: m.is_event("Shutdown"), timeout=5)
        restarted = ami.log[ami.log.index(next(m for m in ami.log if m.get("Cause") == "4")) :]
        assert _endings(restarted, linkedid) == {
            "customer": [("SoftHangupRequest", "4"), ("SoftHangupRequest", "16"), ("Hangup", "0")],
            "agent": [("SoftHangupRequest", "4"), ("DialEnd", "NOANSWER"), ("Hangup", "0")],
        }
        names = [m.name for m in restarted]
        assert names.index("AgentRingNoAnswer") < names.index("QueueCallerAbandon")
        assert [m.get("Cause-txt") for m in ami.events("Hangup")] == ["Unknown", "Unknown"]


async def test_graceful_stop_lets_calls_end_and_refuses_every_action_meanwhile(
    tmp_path: Path,
):
    """`core stop gracefully` (pbx_core_stop_and_login_during_shutdown): the call in progress
    goes on; Ping and a new Login get `Asterisk is shutting down`; `Shutdown` (Cleanly,
    Restart: False) 1-2 s after the last Hangup; then every connection closes and the port
    stays closed."""
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call(
            "13800138000", answer_after=1, talk_seconds=4, hangup_by="caller"
        )
        await ami.wait_event(lambda m: m.is_event("BridgeEnter", Linkedid=linkedid))
        control = await RawAmi.connect(address(sim), login=False)
        stopping = await control.action("SimShutdown", Graceful="yes")
        assert stopping.get("Message") == "Shutting down"
        refused = await ami.action("Ping", ActionID="ping-during-shutdown")
        assert refused.fields == [
            ("Response", "Error"),
            ("ActionID", "ping-during-shutdown"),
            ("Message", "Asterisk is shutting down"),
        ]
        late = await RawAmi.connect(address(sim), login=False)
        login = await late.action("Login", Username="callcentre", Secret="callcentre")
        assert login.get("Message") == "Asterisk is shutting down"
        with pytest.raises(ValueError, match="shutting down"):
            await sim.place_inbound_call("13900139000")

        trunk = (await ami.wait_event(lambda m: m.is_event("AgentComplete")))["Channel"]
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=trunk), timeout=5)
        last_hangup = sim.pbx.clock.now()
        shutdown = await ami.wait_event(lambda m: m.is_event("Shutdown"), timeout=5)
        waited = sim.pbx.clock.now() - last_hangup
        assert 0.9 <= waited <= 2.5, waited
        assert (shutdown["Shutdown"], shutdown["Restart"]) == ("Cleanly", "False")
        assert [m["Reason"] for m in ami.events("AgentComplete")] == ["caller"]
        assert not [m for m in ami.events("SoftHangupRequest") if m["Cause"] != "16"]
        for client in (ami, late):
            assert await client.closed(timeout=2)
        with pytest.raises(OSError):
            await asyncio.open_connection(*address(sim))
        control.close()


async def test_restart_with_downtime_refuses_connections_meanwhile(tmp_path: Path):
    async with running(tmp_path) as sim:
        task = asyncio.create_task(sim.restart(downtime=0.5))
        await asyncio.sleep(0.2)
        with pytest.raises(OSError):
            await asyncio.open_connection(*address(sim))
        await task
        ami = await RawAmi.connect(address(sim))
        assert (await ami.action("Ping"))["Ping"] == "Pong"
        ami.close()


# -- replay and the entry point -------------------------------------------------------------


async def test_replay_streams_a_captures_events_byte_for_byte(tmp_path: Path):
    path = FIXTURES / "inbound_queue_answered.txt"
    data = path.read_bytes()
    events = [raw for raw in split_raw(data) if raw.startswith(b"Event: ")]
    async with running(tmp_path, replay_delay=0.0) as sim:
        ami = await RawAmi.connect(address(sim))
        ami.buffer = b""
        await sim.replay_capture(path)
        expected = b"".join(events)
        while len(ami.buffer) < len(expected):
            await ami._fill(5)
        assert ami.buffer == expected
        ami.close()


async def test_run_simulator_listens_logs_and_replays_to_each_client(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SimulatorConfig(port=port, recordings_dir=tmp_path, replay_delay=0.0)
    caplog.set_level(logging.INFO, logger="telephony.pbx_sim.server")
    task = asyncio.create_task(
        run_simulator(config, replay=FIXTURES / "callback_busy.txt", clock=SystemClock())
    )
    try:
        for _ in range(100):
            if f"127.0.0.1:{port}" in caplog.text:
                break
            await asyncio.sleep(0.02)
        assert f"listening on 127.0.0.1:{port}" in caplog.text
        ami = await RawAmi.connect(("127.0.0.1", port))
        response = await ami.wait_event(lambda m: m.is_event("OriginateResponse"))
        assert (response["Response"], response["Reason"]) == ("Failure", "5")
        ami.close()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
