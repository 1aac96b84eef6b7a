"""Call scenarios of the PBX simulator compared with what Asterisk 22.10.1 sent in the captures."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from telephony.ami.framing import read_capture
from telephony.ami.vocabulary import DeviceState
from telephony.bridge import bridge_event_filter
from telephony.tracker import CallTracker
from tests.lab.conformance import Shape, sequences, track
from tests.test_pbx_sim_support import (
    LAB_AMI,
    Msg,
    RawAmi,
    address,
    capture,
    field_sets,
    lab_transcript,
    running,
)

# Events that mark a call's progress; the per-channel bookkeeping around them (Newexten,
# VarSet, Local channel halves) differs between Local channels and PJSIP phones.
MILESTONES = frozenset({
    "MixMonitorStart", "QueueCallerJoin", "MusicOnHoldStart", "AgentCalled", "DialBegin",
    "DialState", "DialEnd", "MusicOnHoldStop", "QueueCallerLeave", "AgentConnect", "BridgeCreate",
    "BridgeEnter", "AgentComplete", "BridgeLeave", "BridgeDestroy", "OriginateResponse",
})  # fmt: skip
LOCAL_ONLY = frozenset({"LocalBridge"})
SESSION_EVENTS = frozenset({"FullyBooted", "SuccessfulAuth"})
UNIQUEID = re.compile(r"^\d{10}\.\d+$")
CHANNEL = re.compile(r"^PJSIP/(trunk|\d{3,6})-[0-9a-f]{8}$")


def milestones(messages: list[Msg], *, originate_legs: bool) -> list[tuple[str, ...]]:
    """(event, has a calling channel, DialStatus, Reason, Response) of the milestone events."""
    steps: list[tuple[str, ...]] = []
    for m in messages:
        if m.kind != "Event" or m.name not in MILESTONES:
            continue
        if m.name == "OriginateResponse" and not originate_legs:
            continue
        has_caller = "Channel" in m.keys
        if m.name in ("DialBegin", "DialEnd") and not has_caller and not originate_legs:
            continue  # the capture's Local/...@inbound-customer originate leg
        steps.append((m.name, str(has_caller), m.get("DialStatus"), m.get("Reason"),
                      m.get("Response")))  # fmt: skip
    return steps


def call_events(ami: RawAmi) -> list[Msg]:
    return [m for m in ami.log if m.kind == "Event" and m.name not in SESSION_EVENTS]


def assert_shapes_known(events: list[Msg], *captures: str) -> None:
    """Every event type we sent exists in the captures, with one of the captured header lists
    (these captures' or the lab's PJSIP transcripts: a HangupRequest without Cause)."""
    known: dict[str, set[tuple[str, ...]]] = {}
    transcripts = [capture(name) for name in captures]
    transcripts += [lab_transcript(path.stem) for path in sorted(LAB_AMI.glob("*.txt"))]
    for messages in transcripts:
        for event, shapes in field_sets(messages).items():
            known.setdefault(event, set()).update(shapes)
    for event, shapes in field_sets(events).items():
        assert event in known, f"{event} never appears in the captures"
        assert shapes <= known[event], (event, shapes - known[event])


async def _members(ami: RawAmi, queue: str, *extensions: str) -> None:
    for extension in extensions:
        answer = await ami.action("QueueAdd", Queue=queue, Interface=f"PJSIP/{extension}",
                                  MemberName=f"Agent {extension}")  # fmt: skip
        assert answer["Response"] == "Success"


# -- inbound queue calls ----------------------------------------------------------------------


async def test_inbound_queue_call_has_the_captures_events_fields_and_order(tmp_path: Path):
    async with running(tmp_path, answer_delays={"1002": None}) as sim:
        ami = await RawAmi.connect(address(sim))
        await _members(ami, "service", "1001", "1002")
        ami.log.clear()
        linkedid = await sim.place_inbound_call("13800138000", talk_seconds=4, hangup_by="agent")
        trunk = (await ami.wait_event(lambda m: m.is_event("Newchannel", Linkedid=linkedid)))[
            "Channel"
        ]
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=trunk))
        await ami.drain_for(0.2)
    events = call_events(ami)
    theirs = capture("inbound_queue_answered")

    assert milestones(events, originate_legs=False) == milestones(theirs, originate_legs=False)
    their_types = {m.name for m in theirs if m.kind == "Event"} - LOCAL_ONLY - SESSION_EVENTS
    # The phones have caller IDs of their own and the trunk's caller is known from the start:
    # nobody's caller ID changes (the lab's transcripts have no NewCallerid either).
    assert {m.name for m in events} == their_types - {"OriginateResponse", "NewCallerid"}
    assert_shapes_known(events, "inbound_queue_answered")

    # The customer's channel carries the captured variables plus the contract's.
    their_caller = "Local/s@inbound-customer-00000000;1"
    their_vars = {m["Variable"] for m in theirs if m.is_event("VarSet", Channel=their_caller)}
    our_vars = {m["Variable"] for m in events if m.is_event("VarSet", Channel=trunk)}
    assert their_vars - {"CUSTOMER_ID"} <= our_vars
    assert {"CALL_TYPE", "CC_CUSTOMER_NUMBER", "CC_REC_AGENT", "CC_REC_CUSTOMER"} <= our_vars
    call_type = next(m for m in events if m.is_event("VarSet", Variable="CALL_TYPE"))
    assert call_type["Value"] == "inbound"

    # Names, ids and the captures' quirks.
    for event in events:
        for key in ("Channel", "DestChannel"):
            if event.get(key) and event.name != "Cdr":
                assert CHANNEL.match(event[key]), event[key]
        for key in ("Uniqueid", "DestUniqueid"):
            if event.get(key):
                assert UNIQUEID.match(event[key])
        if event.get("Linkedid"):
            assert event["Linkedid"] == linkedid
    assert trunk.startswith("PJSIP/trunk-")
    never = next(
        m["DestChannel"] for m in events if m.is_event("AgentCalled", MemberName="Agent 1002")
    )
    assert len([m for m in events if m.is_event("DialEnd", DestChannel=never)]) == 2
    assert [m["DialStatus"] for m in events if m.is_event("DialEnd", DestChannel=never)] == [
        "CANCEL", "CANCEL",
    ]  # fmt: skip
    assert not [m for m in events if m.name == "MixMonitorStop"]
    indexes = {id(m): i for i, m in enumerate(events)}
    trunk_cdrs = [m for m in events if m.is_event("Cdr", Channel=trunk)]
    hangup = next(m for m in events if m.is_event("Hangup", Channel=trunk))
    assert trunk_cdrs and all(indexes[id(c)] < indexes[id(hangup)] for c in trunk_cdrs)
    assert [c["Disposition"] for c in trunk_cdrs] == ["NO ANSWER", "ANSWERED"]

    connect = next(m for m in events if m.name == "AgentConnect")
    complete = next(m for m in events if m.name == "AgentComplete")
    assert connect["Interface"] == "PJSIP/1001" and complete["Reason"] == "agent"
    assert abs(int(connect["HoldTime"]) - 2) <= 1 and abs(int(connect["RingTime"]) - 2) <= 1
    assert abs(int(complete["TalkTime"]) - 4) <= 1
    # The phone is BUSY (3) from its first ring to its hang-up (device_state_busy_at = 1), as
    # in the lab's transcripts.
    statuses = [m for m in events if m.is_event("QueueMemberStatus", Interface="PJSIP/1001")]
    assert [m["Status"] for m in statuses] == ["3", "1"]
    assert statuses[-1]["CallsTaken"] == "1"


async def test_caller_hangs_up_first_with_scaled_hold_ring_and_talk_times(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call(
            "13800138000", answer_after=5, talk_seconds=8, hangup_by="caller"
        )
        complete = await ami.wait_event(lambda m: m.is_event("AgentComplete", Linkedid=linkedid))
        connect = next(m for m in ami.events("AgentConnect"))
        assert abs(int(connect["HoldTime"]) - 5) <= 1 and abs(int(connect["RingTime"]) - 5) <= 1
        assert abs(int(complete["TalkTime"]) - 8) <= 1 and complete["Reason"] == "caller"
        trunk = complete["Channel"]
        request = next(m for m in ami.events("HangupRequest"))
        assert request["Channel"] == trunk
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=complete["DestChannel"]))
        ami.close()


async def test_caller_abandons_while_phones_ring(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138002", abandon=True)
        abandon = await ami.wait_event(
            lambda m: m.is_event("QueueCallerAbandon", Linkedid=linkedid)
        )
        assert 3 <= int(abandon["HoldTime"]) <= 9
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=abandon["Channel"]))
        names = [m.name for m in call_events(ami)]
        assert "AgentConnect" not in names
        assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
        assert [m["DialStatus"] for m in ami.events("DialEnd")] == ["CANCEL", "CANCEL"]
        assert_shapes_known(call_events(ami), "inbound_queue_answered", "live_call_queries")
        _, summary = await ami.list_action("QueueStatus", Queue="service")
        assert summary[0]["Abandoned"] == "1"
        ami.close()


async def test_pjsip_phones_and_trunk_as_the_lab_shows_them(tmp_path: Path):
    """What chan_pjsip does differently from the captures' Local channels, as the lab's
    Asterisk 22.10.1 showed it (tests/test_asterisk_lab_conformance.py, inbound_abandoned):
    the phone's channel is born with its endpoint's caller ID and context and gets no
    NewCallerid; Queue's connected line shows with its Ringing; the caller's BYE while queued
    is a HangupRequest without Cause and a Hangup with cause 0; the phone's Hangup, which
    chan_pjsip's serializer sends, comes after QueueCallerAbandon and the caller's
    SoftHangupRequest. The carrier gives the caller's number without a name."""
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138002", abandon=2.0, answer_after=10)
        abandon = await ami.wait_event(
            lambda m: m.is_event("QueueCallerAbandon", Linkedid=linkedid)
        )
        trunk = abandon["Channel"]
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=trunk))
        await ami.drain_for(0.2)
    events = call_events(ami)
    customer = next(m for m in events if m.is_event("Newchannel", Channel=trunk))
    assert (customer["CallerIDNum"], customer["CallerIDName"]) == ("13800138002", "<unknown>")
    phone = next(m for m in events if m.name == "Newchannel" and m["Channel"] != trunk)
    assert (phone["CallerIDNum"], phone["CallerIDName"], phone["Context"], phone["Exten"]) == (
        "1001", "Agent 1001", "from-agents", "s",
    )  # fmt: skip
    of_phone = [m.name for m in events if m.get("Channel") == phone["Channel"]]
    assert "NewCallerid" not in of_phone
    assert of_phone[of_phone.index("Newstate") + 1] == "NewConnectedLine"
    ringing = next(m for m in events if m.is_event("Newstate", Channel=phone["Channel"]))
    assert (ringing["ConnectedLineNum"], ringing["Exten"]) == ("13800138002", "inbound")
    request = next(m for m in events if m.name == "HangupRequest")
    assert request["Channel"] == trunk and "Cause" not in request.keys
    hangups = {m["Channel"]: m for m in events if m.name == "Hangup"}
    assert (hangups[trunk]["Cause"], hangups[trunk]["Cause-txt"]) == ("0", "Unknown")
    assert hangups[phone["Channel"]]["Cause"] == "0"
    order = [(m.name, m.get("Channel")) for m in events]
    assert (
        order.index(("QueueCallerAbandon", trunk))
        < order.index(("SoftHangupRequest", trunk))
        < order.index(("Hangup", phone["Channel"]))
        < order.index(("Hangup", trunk))
    )


async def test_patience_shorter_than_the_answer_delay_is_an_abandon(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138002", abandon=2.0, answer_after=10)
        abandon = await ami.wait_event(
            lambda m: m.is_event("QueueCallerAbandon", Linkedid=linkedid)
        )
        assert abs(int(abandon["HoldTime"]) - 2) <= 1
        ami.close()


async def test_queue_timeout_rings_in_cycles_then_the_caller_leaves(tmp_path: Path):
    """app_queue: each ring cycle ends with AgentRingNoAnswer (RingTime in ms), DialEnd
    NOANSWER then CANCEL; the last one is cut short by the queue wait (timeoutpriority=app);
    the queue then records an abandon although the caller never hung up (EXITWITHTIMEOUT),
    and the dialplan goes on with QUEUESTATUS=TIMEOUT."""
    async with running(
        tmp_path,
        static_members={"service": ["1001"]},
        answer_delays={"1001": None},
        queue_timeout=8,
        member_ring_timeout=2,
        retry_seconds=1,
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000")
        join = await ami.wait_event(lambda m: m.is_event("QueueCallerJoin", Linkedid=linkedid))
        leave = await ami.wait_event(lambda m: m.is_event("QueueCallerLeave", Linkedid=linkedid))
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=join["Channel"]))
        events = call_events(ami)
        names = [m.name for m in events]
        assert "AgentConnect" not in names and "HangupRequest" not in names
        no_answers = ami.events("AgentRingNoAnswer")
        # Cycles at 0, 3 and 6 s; the last one cut short by the wait (a busy machine may
        # start it late, or not at all), in whole seconds.
        *full, last = [int(m["RingTime"]) for m in no_answers]
        assert len(full) in (1, 2) and set(full) == {2000} and last in (0, 1000, 2000)
        assert len(ami.events("AgentCalled")) == len(no_answers)
        dial_ends = [m["DialStatus"] for m in ami.events("DialEnd")]
        assert dial_ends == ["NOANSWER", "CANCEL"] * len(no_answers)
        abandon = next(m for m in events if m.name == "QueueCallerAbandon")
        assert abs(int(abandon["HoldTime"]) - 8) <= 1 and leave["Count"] == "0"
        assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
        status = next(m for m in events if m.is_event("VarSet", Variable="QUEUESTATUS"))
        assert status["Value"] == "TIMEOUT"
        assert names.index("QueueCallerLeave") < names.index("SoftHangupRequest")
        gave_up = [m["AppData"] for m in events if m.is_event("Newexten", Channel=join["Channel"])]
        assert gave_up[-3:] == ["Queue service gave up: TIMEOUT", "vm-nobodyavail", "16"]
        ami.close()


async def test_queue_with_nobody_logged_in_refuses_the_caller(tmp_path: Path):
    """joinempty (inbound_joinempty capture): no QueueCallerJoin at all, QUEUESTATUS=JOINEMPTY
    at once, then the dialplan's NoOp, Playback (FAILED without sound files), Hangup(16)."""
    async with running(tmp_path, queue_timeout=5) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000")
        hangup = await ami.wait_event(lambda m: m.is_event("Hangup", Linkedid=linkedid))
        names = [m.name for m in call_events(ami)]
        assert not {"QueueCallerJoin", "QueueCallerLeave", "AgentCalled"} & set(names)
        assert hangup["Cause"] == "16" and hangup["ChannelStateDesc"] == "Up"
        channel = [m for m in call_events(ami) if m.get("Channel") == hangup["Channel"]]
        steps = [
            (m.name, m.get("Application") or m.get("Variable"), m.get("AppData") or m.get("Value"))
            for m in channel
            if m.name in ("Newexten", "VarSet", "SoftHangupRequest")
        ]
        assert steps[-6:] == [
            ("VarSet", "QUEUESTATUS", "JOINEMPTY"),
            ("Newexten", "NoOp", "Queue service gave up: JOINEMPTY"),
            ("Newexten", "Playback", "vm-nobodyavail"),
            ("VarSet", "PLAYBACKSTATUS", "FAILED"),
            ("Newexten", "Hangup", "16"),
            ("SoftHangupRequest", "", ""),
        ]
        ami.close()


async def test_leavewhenempty_lets_the_caller_go_when_the_last_member_leaves(tmp_path: Path):
    """app_queue checks leavewhenempty after each ring cycle: with nobody left, the caller is
    recorded as abandoned (queue_log EXITEMPTY) and leaves with QUEUESTATUS=LEAVEEMPTY."""
    async with running(
        tmp_path, answer_delays={"1001": None}, member_ring_timeout=2, retry_seconds=1
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        await _members(ami, "service", "1001")
        linkedid = await sim.place_inbound_call("13800138000")
        await ami.wait_event(lambda m: m.is_event("DialState", Linkedid=linkedid))
        removed = await ami.action("QueueRemove", Queue="service", Interface="PJSIP/1001")
        assert removed.get("Message") == "Removed interface from queue"
        status = await ami.wait_event(lambda m: m.is_event("VarSet", Variable="QUEUESTATUS"))
        assert status["Value"] == "LEAVEEMPTY"
        names = [m.name for m in call_events(ami) if m.get("Linkedid") == linkedid]
        assert names.index("AgentRingNoAnswer") < names.index("QueueCallerAbandon")
        assert names.index("QueueCallerAbandon") < names.index("QueueCallerLeave")
        ami.close()


async def test_a_member_who_refuses_drops_out_until_the_next_ring_cycle(tmp_path: Path):
    """A congested phone: DialEnd CONGESTION and AgentRingNoAnswer, then `retry` seconds
    before the queue rings again (no ringing in a loop)."""
    async with running(
        tmp_path,
        static_members={"service": ["1001"]},
        congestion_numbers=["1001"],
        retry_seconds=2,
        queue_timeout=5,
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000")
        await ami.wait_event(lambda m: m.is_event("QueueCallerLeave", Linkedid=linkedid), 10)
        assert {m["DialStatus"] for m in ami.events("DialEnd")} == {"CONGESTION"}
        called, refused = ami.events("AgentCalled"), ami.events("AgentRingNoAnswer")
        assert 1 <= len(called) == len(refused) <= 3
        assert all(m["RingTime"] == "0" for m in refused)
        assert [m["Cause"] for m in ami.events("Hangup") if "1001" in m["Channel"]] == ["34"] * len(
            called
        )
        ami.close()


async def test_wrapup_keeps_a_member_idle_after_a_call(tmp_path: Path):
    async with running(tmp_path, static_members={"service": ["1001"]}, wrapup_seconds=6) as sim:
        ami = await RawAmi.connect(address(sim))
        first = await sim.place_inbound_call("13800138000", talk_seconds=1, hangup_by="agent")
        await ami.wait_event(lambda m: m.is_event("AgentComplete", Linkedid=first))
        second = await sim.place_inbound_call("13800138001", talk_seconds=1, hangup_by="agent")
        connect = await ami.wait_event(lambda m: m.is_event("AgentConnect", Linkedid=second))
        assert int(connect["HoldTime"]) >= 6 + 2 - 1  # wrap-up, then the phone's 2 s of ringing
        member = next(m for m in ami.events("QueueMemberStatus") if m["CallsTaken"] == "1")
        assert member["Wrapuptime"] == "0"  # the member's own wrap-up; the queue's applies
        ami.close()


async def test_direct_call_to_an_extension_dials_without_a_queue(tmp_path: Path):
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        control = await RawAmi.connect(address(sim), login=False)
        placed = await control.action(
            "SimInboundCall", Caller="13800138000", Extension="1001", TalkSeconds="3",
            HangupBy="caller", AnswerAfter="1",
        )  # fmt: skip
        linkedid = placed["Linkedid"]
        begin = await ami.wait_event(lambda m: m.is_event("DialBegin", Linkedid=linkedid))
        assert begin["Channel"].startswith("PJSIP/trunk-") and begin["DialString"] == "1001"
        assert begin["DestChannel"].startswith("PJSIP/1001-")
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=begin["DestChannel"]))
        events = call_events(ami)
        names = [m.name for m in events]
        assert "QueueCallerJoin" not in names
        assert [m["DialStatus"] for m in ami.events("DialEnd")] == ["ANSWER"]
        assert names.count("BridgeEnter") == 2 and "BridgeDestroy" in names
        assert_shapes_known(events, "inbound_queue_answered", "outbound_callback_dial_bridged")
        ami.close()
        control.close()


async def test_a_phone_on_a_call_is_busy_for_a_second_one(tmp_path: Path):
    """The phone takes one call at a time: while it is on one (BUSY, device_state_busy_at =
    1), a second call to it gets DialStatus BUSY."""
    async with running(tmp_path) as sim:
        ami = await RawAmi.connect(address(sim))
        first = await sim.place_inbound_call("13800138000", extension="1001", talk_seconds=30)
        await ami.wait_event(lambda m: m.is_event("BridgeEnter", Linkedid=first))
        assert sim.pbx.device_state("PJSIP/1001") is DeviceState.BUSY
        second = await sim.place_inbound_call("13900139000", extension="1001")
        end = await ami.wait_event(lambda m: m.is_event("DialEnd", Linkedid=second))
        assert end["DialStatus"] == "BUSY"
        ami.close()


# -- originate ------------------------------------------------------------------------------


async def test_customer_first_originate_outcomes_follow_the_number(tmp_path: Path):
    async with running(
        tmp_path,
        no_answer_numbers=["*2"],
        congestion_numbers=["*3"],
        unreachable_numbers=["*4"],
        static_members={"callbacks": ["1001"]},
        talk_seconds=(2.0, 2.0),
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        numbers = {"busy": "13700137000", "noanswer": "13800000002",
                   "congestion": "13800000003", "unreachable": "13800000004",
                   "answer": "13800000005"}  # fmt: skip
        for label, number in numbers.items():
            queued = await ami.action(
                "Originate", ActionID=label, Channel=f"PJSIP/{number}@trunk",
                Context="callback-queue", Exten="s", Priority="1",
                CallerID='"Callback" <4008009000>', Timeout="6000", Async="true",
                Variable=["CC_ATTEMPT_ID=17", f"CC_CUSTOMER_NUMBER={number}"],
            )  # fmt: skip
            assert queued.get("Message") == "Originate successfully queued"
        responses = {}
        for label in numbers:
            responses[label] = await ami.wait_for("OriginateResponse", ActionID=label)
        shape = field_sets(capture("callback_busy"))["OriginateResponse"]
        for label, (response, reason, cause) in {
            "busy": ("Failure", "5", "17"),
            "noanswer": ("Failure", "3", "19"),
            "congestion": ("Failure", "8", "34"),
            "unreachable": ("Failure", "1", "20"),
            "answer": ("Success", "4", "16"),
        }.items():
            event = responses[label]
            assert {event.keys} <= shape
            assert (event["Response"], event["Reason"]) == (response, reason), label
            assert (event["Context"], event["Exten"]) == ("callback-queue", "s")
            assert (event["CallerIDNum"], event["CallerIDName"]) == ("4008009000", "Callback")
            begin = next(
                m for m in ami.events("DialBegin") if m["DialString"] == f"{numbers[label]}@trunk"
            )
            hangup = await ami.wait_for("Hangup", 15, Channel=begin["DestChannel"])
            assert hangup["Cause"] == cause, label
            if response == "Failure":
                assert event["Uniqueid"] == "<unknown>"
                assert event["Channel"] == f"PJSIP/{numbers[label]}@trunk"
            else:
                assert event["Channel"] == begin["DestChannel"]
                assert event["Uniqueid"] == begin["DestUniqueid"]
        busy = next(m for m in ami.events("Hangup") if m["Cause"] == "17")
        assert busy["Cause-txt"] == "User busy"
        joined = next(m for m in ami.events("QueueCallerJoin"))
        # The customer's leg keeps the Originate's CallerID (callback legs never carry the
        # customer's number there, see the captures); the number is in CC_CUSTOMER_NUMBER.
        assert joined["Queue"] == "callbacks" and joined["CallerIDNum"] == "4008009000"
        assert any(
            m.is_event("VarSet", Channel=joined["Channel"], Variable="CC_CUSTOMER_NUMBER",
                       Value=numbers["answer"]) for m in ami.log
        )  # fmt: skip
        assert any(m.is_event("VarSet", Variable="CC_ATTEMPT_ID", Value="17") for m in ami.log)
        assert any(m.is_event("VarSet", Variable="CALL_TYPE", Value="callback") for m in ami.log)
        await ami.wait_event(lambda m: m.name == "AgentComplete")
        ami.close()


async def test_agent_first_callback_has_the_shape_of_the_capture(tmp_path: Path):
    async with running(tmp_path, talk_seconds=(3.0, 3.0), caller_hangup_ratio=1.0) as sim:
        ami = await RawAmi.connect(address(sim))
        queued = await ami.action(
            "Originate", ActionID="callback-2", Channel="PJSIP/1001", Context="callback",
            Exten="13900139000", Priority="1", CallerID='"Agent 1001" <1001>', Timeout="30000",
            Variable=["CC_ATTEMPT_ID=17", "CUSTOMER_ID=CUST-42"], Async="true",
        )  # fmt: skip
        assert queued.get("Message") == "Originate successfully queued"
        response = await ami.wait_event(lambda m: m.is_event("OriginateResponse"))
        agent = response["Channel"]
        assert agent.startswith("PJSIP/1001-") and response["Reason"] == "4"
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=agent))
        await ami.drain_for(0.2)
    events = call_events(ami)
    theirs = capture("outbound_callback_dial_bridged")

    # OriginateResponse lands anywhere after the first leg answered (fixtures README); the
    # capture's agent-phone answers without ringing, a PJSIP phone rings first (DialState).
    def steps(messages: list[Msg]) -> list[tuple[str, ...]]:
        return [
            s
            for s in milestones(messages, originate_legs=True)
            if s[0] != "OriginateResponse" and s[:2] != ("DialState", "False")
        ]

    ours_steps, their_steps = steps(events), steps(theirs)
    assert ours_steps == their_steps
    names = [m.name for m in events]
    assert names.index("DialEnd") < names.index("OriginateResponse")
    assert_shapes_known(
        events,
        "outbound_callback_dial_bridged",
        "inbound_queue_answered",
        "callback_agent_first_answered",  # DialState of a ringing originated leg
    )
    first = next(m for m in events if m.name == "DialBegin")
    assert "Channel" not in first.keys and first["DestChannel"] == agent
    assert first["DialString"] == "1001"
    agent_vars = {
        (m["Variable"], m["Value"]) for m in events if m.is_event("VarSet", Channel=agent)
    }
    assert {("CC_ATTEMPT_ID", "17"), ("CUSTOMER_ID", "CUST-42"), ("CALL_TYPE", "callback"),
            ("CC_CUSTOMER_NUMBER", "13900139000")} <= agent_vars  # fmt: skip
    customer_dial = next(m for m in events if m.is_event("DialBegin", Channel=agent))
    assert customer_dial["DialString"] == "13900139000@trunk"
    customer = customer_dial["DestChannel"]
    assert customer.startswith("PJSIP/trunk-")
    requests = [m["Channel"] for m in events if m.name == "HangupRequest"]
    assert requests[0] == customer  # the customer hung up, as in the capture
    assert response["Uniqueid"] == first["DestUniqueid"]
    assert {m["Linkedid"] for m in events if m.get("Linkedid")} == {response["Uniqueid"]}


async def test_agent_first_callback_on_pjsip_as_the_lab_shows_it(tmp_path: Path):
    """The lab's agent-first callback (tests/test_asterisk_lab_conformance.py): an Originate
    without CallerID leaves the phone's own caller ID and connected line alone; Dial gives the
    trunk's channel the extension as caller ID, and the phone's connected line becomes it at
    DialBegin (chan_pjsip's connected-line update); Dial's answer gives both Normal Clearing,
    so the customer's BYE is a HangupRequest with Cause 16."""
    async with running(tmp_path, talk_seconds=(3.0, 3.0), caller_hangup_ratio=1.0) as sim:
        ami = await RawAmi.connect(address(sim))
        await ami.action(
            "Originate", Channel="PJSIP/1001", Context="callback", Exten="13900139000",
            Priority="1", Async="true", Variable="CC_ATTEMPT_ID=7",
        )  # fmt: skip
        response = await ami.wait_event(lambda m: m.is_event("OriginateResponse"))
        agent = response["Channel"]
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=agent))
        await ami.drain_for(0.2)
    events = call_events(ami)
    assert (response["CallerIDNum"], response["CallerIDName"]) == ("<unknown>", "<unknown>")
    before_dial = [m.name for m in events[: events.index(next(m for m in events
                   if m.name == "DialBegin"))]]  # fmt: skip
    assert "NewCallerid" not in before_dial and "NewConnectedLine" not in before_dial
    customer_dial = next(m for m in events if m.is_event("DialBegin", Channel=agent))
    customer = customer_dial["DestChannel"]
    caller_id = next(m for m in events if m.is_event("NewCallerid", Channel=customer))
    assert (caller_id["CallerIDNum"], caller_id["CallerIDName"], caller_id["Exten"]) == (
        "dial", "<unknown>", "dial",
    )  # fmt: skip
    after = events[events.index(customer_dial) + 1]
    assert after.is_event("NewConnectedLine", Channel=agent, ConnectedLineNum="dial")
    request = next(m for m in events if m.name == "HangupRequest")
    assert (request["Channel"], request["Cause"], request["Exten"]) == (customer, "16", "")


async def test_agent_first_failures(tmp_path: Path):
    async with running(tmp_path, unregistered_extensions=["1009"]) as sim:
        ami = await RawAmi.connect(address(sim))
        control = await RawAmi.connect(address(sim), login=False)
        assert (await control.action("SimSetAnswer", Extension="1002", Never="yes"))[
            "Response"
        ] == "Success"
        for label, channel in {"noanswer": "PJSIP/1002", "unknown": "PJSIP/99",
                               "offline": "PJSIP/1009", "bogus": "Bogus/123"}.items():  # fmt: skip
            ami.send("Originate", ActionID=label, Channel=channel, Context="callback",
                     Exten="13900139000", Timeout="4000", Async="yes")  # fmt: skip
        results = {}
        for label in ("noanswer", "unknown", "offline", "bogus"):
            results[label] = await ami.wait_for("OriginateResponse", ActionID=label)
        assert {k: (v["Response"], v["Reason"]) for k, v in results.items()} == {
            "noanswer": ("Failure", "3"),
            "unknown": ("Failure", "0"),
            "offline": ("Failure", "0"),
            "bogus": ("Failure", "0"),
        }
        assert results["unknown"]["Channel"] == "PJSIP/99"
        assert all(v["Uniqueid"] == "<unknown>" for v in results.values())
        created = [m["Channel"] for m in ami.events("Newchannel")]
        assert len(created) == 1 and created[0].startswith("PJSIP/1002-")
        hangup = await ami.wait_event(lambda m: m.is_event("Hangup", Channel=created[0]))
        assert hangup["Cause"] == "19"
        ami.close()
        control.close()


async def test_agent_first_callback_to_a_busy_customer(tmp_path: Path):
    async with running(tmp_path) as sim:
        outcome = await sim.originate(
            "PJSIP/1001", context="callback", exten="13700137000", caller_id="1001"
        )
        assert (outcome.success, outcome.reason) == (True, 4)
        ami = await RawAmi.connect(address(sim))
        await sim.wait_calls()
        ami.close()
        assert sim.pbx.channels.by_name == {}


async def test_synchronous_originate_answers_after_the_outcome(tmp_path: Path):
    async with running(tmp_path, talk_seconds=(1.0, 1.0)) as sim:
        ami = await RawAmi.connect(address(sim))
        answered = await ami.action(
            "Originate", timeout=10, Channel="PJSIP/1001", Context="callback",
            Exten="13900139000", Priority="1",
        )  # fmt: skip
        assert answered.get("Message") == "Originate successfully queued"
        position = ami.log.index(answered)
        answer_at = next(
            i for i, m in enumerate(ami.log) if m.is_event("DialEnd", DialStatus="ANSWER")
        )
        assert answer_at < position
        failed = await ami.action(
            "Originate", timeout=10, Channel="PJSIP/13700137000@trunk", Context="callback-queue",
            Exten="s",
        )  # fmt: skip
        assert failed.fields[0] == ("Response", "Error")
        assert failed.get("Message") == "Originate failed"
        assert not ami.events("OriginateResponse")
        ami.close()


async def test_python_originate_returns_the_outcome(tmp_path: Path):
    async with running(tmp_path) as sim:
        busy = await sim.originate("PJSIP/13700137000@trunk", context="callback-queue", exten="s")
        assert (busy.success, busy.reason, busy.uniqueid) == (False, 5, "<unknown>")
        answered = await sim.originate(
            "PJSIP/13800138000@trunk", context="callback-queue", exten="s", talk_seconds=1
        )
        assert answered.success and answered.channel.startswith("PJSIP/trunk-")


# -- generated traffic -----------------------------------------------------------------------


async def test_generated_traffic_places_calls_from_known_and_unknown_callers(tmp_path: Path):
    known = ["13811110001", "13811110002"]
    async with running(
        tmp_path,
        time_scale=0.01,
        calls_per_minute=6,
        callers=known,
        unknown_caller_ratio=0.5,
        static_members={"service": ["1001", "1002"]},
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        await ami.drain_for(1.5)
        callers = [m["CallerIDNum"] for m in ami.events("Newchannel") if "trunk" in m["Channel"]]
        assert callers, "no generated call arrived"
        assert all(c in known or re.fullmatch(r"1[3-9]\d{9}", c) for c in callers)
        assert ami.events("QueueCallerJoin")
        ami.close()


# -- a phone's blind transfer -----------------------------------------------------------------


def _as_the_bridge_reads(raw: bytes) -> list[tuple[float, Any]]:
    """A stream's events as the bridge keeps them (its event filter), numbered in order."""
    view = bridge_event_filter(CallTracker())
    frames = [part for part in raw.decode().split("\r\n\r\n") if part.strip()]
    kept = "".join(f + "\r\n\r\n" for f in frames if view.wants(f + "\r\n")).encode()
    return list(enumerate(m for m in read_capture(kept) if "Event" in m))


async def test_blind_transfer_by_the_agents_phone_as_the_lab_shows_it(tmp_path: Path):
    """SimBlindTransfer: agent 1001's phone sends its queue call to 1002, as its SIP REFER did
    in the lab (tests/data/lab_ami/blind_transfer.txt): the tracker makes the same call of
    both streams, and each channel shows it the same events in the same order."""
    lab = _as_the_bridge_reads((LAB_AMI / "blind_transfer.txt").read_bytes())
    async with running(
        tmp_path, answer_delays={"1001": 2.0, "1002": 1.0}, talk_seconds=(6.0, 6.0)
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        await _members(ami, "service", "1001")
        linkedid = await sim.place_inbound_call("13800138000", hangup_by="customer")
        await ami.wait_event(lambda m: m.is_event("BridgeEnter", Linkedid=linkedid))
        await asyncio.sleep(sim.pbx.clock.real(3.0))
        control = await RawAmi.connect(address(sim), login=False)
        refused = await control.action("SimBlindTransfer", Extension="1001", Target="12")
        assert refused["Message"] == "Extension 12 does not exist in from-agents"
        done = await control.action("SimBlindTransfer", Extension="1001", Target="1002")
        assert done["Message"] == "Transfer succeeded"
        customer = next(m["Channel"] for m in ami.events("Newchannel", Linkedid=linkedid))
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=customer), timeout=10)
        await ami.drain_for(0.2)
        nothing = await control.action("SimBlindTransfer", Extension="1001", Target="1002")
        assert nothing["Message"] == "Extension 1001 has no call to transfer"
    ours = _as_the_bridge_reads(b"".join(m.raw for m in ami.log if m.kind == "Event"))
    [lab_call], tracker = track(lab)
    [our_call], _ = track(ours)
    assert Shape.of(our_call) == Shape.of(lab_call)
    assert (our_call.agent, our_call.hung_up_by, our_call.outcome) == (
        lab_call.agent, "customer", "answered",
    )  # fmt: skip
    # The lab captured through manager.conf's filter of the time, which dropped MusicOnHold*
    # (the queue's music while the caller waits); the tracker reads them since (issue 17).
    handled = tracker.handled_events - {"MusicOnHoldStart", "MusicOnHoldStop"}
    assert sequences(ours, our_call.linkedid, handled) == sequences(lab, lab_call.linkedid, handled)
    [transfer] = [m for m in ami.log if m.name == "BlindTransfer"]
    [theirs] = [m for _, m in lab if m.get("Event") == "BlindTransfer"]
    assert transfer.keys[2:] == tuple(k for k in theirs if k != "content")[2:]
    assert (transfer["Result"], transfer["IsExternal"], transfer["Context"]) == (
        "Success", "Yes", "from-agents",
    )  # fmt: skip
    names = [(m.name, m.get("Channel")[:10]) for m in ami.log if m.kind == "Event"]
    assert names.index(("Unhold", "PJSIP/1001")) < names.index(("BlindTransfer", ""))


async def test_blind_transfer_action_on_an_agent_first_callback(tmp_path: Path):
    """AMI BlindTransfer of the agent's channel in an agent-first callback, as the lab's
    Asterisk ran it: the customer's leg (Dial's callee) starts a dialplan of its own at
    1002@from-agents and Dials the phone, the agent's dialplan ends where its Dial was; the
    tracker keeps one answered call that the customer ended."""
    async with running(
        tmp_path, answer_delays={"1001": 1.0, "1002": 1.0}, customer_answer_delay=1.0,
        talk_seconds=(6.0, 6.0), caller_hangup_ratio=1.0,
    ) as sim:  # fmt: skip
        ami = await RawAmi.connect(address(sim))
        await ami.action(
            "Originate", Channel="PJSIP/1001", Context="callback", Exten="13900139000",
            Priority="1", Async="true", Variable="CC_ATTEMPT_ID=7",
        )  # fmt: skip
        response = await ami.wait_event(lambda m: m.is_event("OriginateResponse"))
        agent = response["Channel"]
        await ami.wait_event(lambda m: m.is_event("BridgeEnter", Channel=agent))
        await asyncio.sleep(sim.pbx.clock.real(2.0))
        answer = await ami.action(
            "BlindTransfer", Channel=agent, Exten="1002", Context="from-agents"
        )
        assert answer["Message"] == "Transfer succeeded"
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=agent))
        second = await ami.wait_event(lambda m: m.is_event("Newchannel") and m["Channel"]
                                      .startswith("PJSIP/1002-"))  # fmt: skip
        await ami.wait_event(lambda m: m.is_event("Hangup", Channel=second["Channel"]), 10)
        await ami.drain_for(0.2)
    events = call_events(ami)
    transfer = next(m for m in events if m.is_event("BlindTransfer", Result="Success"))
    customer = transfer["TransfereeChannel"]
    assert customer.startswith("PJSIP/trunk-") and transfer["TransfererChannel"] == agent
    ends = [(m.name, m["Cause"], m["Exten"]) for m in events
            if m.name in ("SoftHangupRequest", "Hangup") and m["Channel"] == agent]  # fmt: skip
    assert ends == [("SoftHangupRequest", "16", "dial"), ("Hangup", "16", "dial")]
    redial = next(m for m in events if m.is_event("DialBegin", DestChannel=second["Channel"]))
    assert (redial["Channel"], redial["Context"], redial["Exten"]) == (
        customer, "from-agents", "1002",
    )  # fmt: skip
    stream = _as_the_bridge_reads(b"".join(m.raw for m in ami.log if m.kind == "Event"))
    [call], _ = track(stream)
    assert (call.outcome, call.agent, call.hung_up_by, call.hangup_cause) == (
        "answered", "PJSIP/1001", "customer", 16,
    )  # fmt: skip
    assert sorted(call.agents_rung) == ["PJSIP/1001", "PJSIP/1002"]


async def test_blind_transfer_action_refusals(tmp_path: Path):
    """The action's refusals are manager.c's words; a channel in no bridge (a caller waiting
    in the queue) is an Invalid transfer, which Asterisk still announces."""
    async with running(
        tmp_path, static_members={"service": ["1001"]}, answer_delays={"1001": None}
    ) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000")
        join = await ami.wait_event(lambda m: m.is_event("QueueCallerJoin", Linkedid=linkedid))
        caller = join["Channel"]
        missing = {"Channel": "PJSIP/1009-0000ffff", "Exten": "1002"}
        for headers, refusal in (
            ({}, "No channel specified"),
            ({"Channel": caller}, "No extension specified"),
            (missing, "Channel specified does not exist"),
            ({"Channel": caller, "Exten": "1002"}, "Transfer invalid"),
        ):
            refused = await ami.response(ami.send("BlindTransfer", **headers))
            assert refused["Message"] == refusal
        invalid = await ami.wait_event(lambda m: m.is_event("BlindTransfer"))
        assert (invalid["Result"], invalid["TransfererChannel"]) == ("Invalid", caller)
        assert (invalid["Context"], invalid["Extension"], invalid["IsExternal"]) == (
            "from-trunk", "1002", "Yes",
        )  # fmt: skip
        assert "TransfereeChannel" not in invalid.keys and "BridgeUniqueid" not in invalid.keys
        assert not ami.events("Unhold")
