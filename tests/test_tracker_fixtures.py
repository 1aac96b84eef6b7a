"""The call tracker on the raw captures from a real Asterisk 22.10.1 (../shared/fixtures/ami).

Each expected value is read off the capture; the comment says which event gives it. The
quirks the fixtures README lists are then applied on purpose (OriginateResponse and Cdr moved,
DialEnd duplicated, noise added) and must not change the answer.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from panoramisk.message import Message

from telephony.ami.framing import read_capture
from telephony.events import AgentRinging, CallAnswered, CallArrived, CallEnded, RingStopped
from telephony.replay import replay
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES

EXPECTED: dict[str, list[dict[str, object]]] = {
    "inbound_queue_answered": [
        {
            "linkedid": "1795438127.0",
            "direction": "inbound",  # VarSet CALL_TYPE=inbound, QueueCallerJoin
            "caller": "13800138000",  # NewCallerid on the first channel
            "dialed": None,
            "queue": "service",  # QueueCallerJoin Queue
            "agents_rung": [
                "Local/1002@agents/n",
                "Local/1001@agents/n",
            ],  # AgentCalled ×2, in order
            "agent": "Local/1001@agents/n",  # AgentConnect Interface
            "outcome": "answered",
            "wait_seconds": 1,
            "ring_seconds": 1,  # AgentConnect HoldTime / RingTime
            "talk_seconds": 4,  # AgentComplete TalkTime
            "hung_up_by": "agent",  # AgentComplete Reason: agent
            "hangup_cause": 16,  # Hangup of Local/s@inbound-customer-00000000;1
            "recording": "/var/spool/asterisk/monitor/inbound-13800138000-1795438127.0.wav",
        }
    ],
    "live_call_queries": [
        {
            "linkedid": "1795438177.24",
            "direction": "inbound",
            "caller": "13800138002",
            "dialed": None,
            "queue": "sales",
            "agents_rung": ["Local/1003@agents/n"],
            "agent": None,
            "outcome": "abandoned",  # QueueCallerAbandon
            "wait_seconds": 6,  # QueueCallerAbandon HoldTime
            "ring_seconds": None,
            "talk_seconds": None,
            "hung_up_by": "customer",  # the caller abandoned
            "hangup_cause": 16,
            "recording": None,  # no MixMonitor in this dialplan
        }
    ],
    "outbound_callback_dial_bridged": [
        {
            "linkedid": "1795438143.8",
            "direction": "outbound",  # originated (DialBegin without Channel), CALL_TYPE=callback
            "caller": "1001",  # the originate's CallerID on the agent leg
            # DialBegin from the agent leg, DialString 13900139000@customers
            "dialed": "13900139000",
            "queue": None,
            "agents_rung": ["Local/1001@agent-phone"],  # the originated leg is the agent's phone
            "agent": "Local/1001@agent-phone",
            "outcome": "answered",  # DialEnd ANSWER for the customer leg
            # No queue events: measured between events, whole seconds (events 1 ms apart here).
            "wait_seconds": 0,  # the agent was on the line before the customer answered
            "ring_seconds": 0,
            "talk_seconds": 0,
            "hung_up_by": "customer",  # first hangup after the bridge: customers-00000005;2
            "hangup_cause": 16,
            "recording": "/var/spool/asterisk/monitor/callback-13900139000-1795438143.8.wav",
        }
    ],
    "callback_busy": [
        {
            "linkedid": "1795438152.12",
            "direction": "outbound",
            "caller": "4008009000",  # CallerID of the originate
            "dialed": "13700137000",  # the originate's dial string Local/13700137000@customers
            "queue": None,
            "agents_rung": [],
            "agent": None,
            "outcome": "busy",  # OriginateResponse Reason 5, DialEnd BUSY
            "wait_seconds": None,
            "ring_seconds": 0,  # DialBegin → DialEnd BUSY of the customer leg
            "talk_seconds": None,
            "hung_up_by": None,  # nobody answered
            "hangup_cause": 17,  # ;1 says 0 (Unknown), its Local twin ;2 says 17 (User busy)
            "recording": None,
        }
    ],
    "login_ok": [],
    "login_bad_secret": [],
    "unknown_action": [],
    "queue_status_idle": [],
    # Captured through the project's own dialplan (asterisk-conf/): the fixtures README's table.
    "inbound_answered_first_abandoned": [
        {
            "linkedid": "1796584704.0",
            "direction": "inbound",  # VarSet CALL_TYPE=inbound
            "caller": "13800200001",
            "dialed": None,  # the test rig's originate into from-trunk dials no number
            "queue": "service",
            "agents_rung": ["Local/1002@agents/n"],  # AgentCalled
            "agent": None,  # nobody answered: [from-trunk]'s Answer() is not an answer
            "outcome": "abandoned",  # QueueCallerAbandon, no QUEUESTATUS: the caller left
            "wait_seconds": 6,  # QueueCallerAbandon HoldTime
            "ring_seconds": None,
            "talk_seconds": None,
            "hung_up_by": "customer",
            "hangup_cause": 16,
            "recording": None,  # MixMonitor(b) never bridged: 44-byte headers, not kept
        }
    ],
    "inbound_joinempty": [
        {
            "linkedid": "1796584713.4",
            "direction": "inbound",
            "caller": "13800200002",
            "dialed": None,
            "queue": "service",  # Newexten Queue(service,...): no QueueCallerJoin at all
            "agents_rung": [],
            "agent": None,
            "outcome": "no_agent",  # VarSet QUEUESTATUS=JOINEMPTY: nobody was staffed
            "wait_seconds": 0,  # never waited in the queue
            "ring_seconds": None,
            "talk_seconds": None,
            "hung_up_by": "pbx",  # the dialplan's Hangup(16) after the queue refused
            "hangup_cause": 16,
            "recording": None,
        }
    ],
    "callback_agent_first_answered": [
        {
            "linkedid": "1796584728.12",
            "direction": "outbound",  # CALL_TYPE=callback (originate variable)
            "caller": "1001",  # the originate's CallerID on the agent leg
            "dialed": "13911150015",  # DialBegin from the agent leg, 13911150015@customers
            "queue": None,
            "agents_rung": ["Local/1001@agents"],  # the originated leg is the agent's phone
            "agent": "Local/1001@agents",
            "outcome": "answered",  # DialEnd ANSWER of the customer leg
            # Whole seconds measured between events (the capture has no timestamps, the
            # events here are a millisecond apart): present, where they used to be missing.
            "wait_seconds": 0,  # the customer waited for nobody: the agent was on the line
            "ring_seconds": 0,  # the customer's DialBegin → DialEnd ANSWER
            "talk_seconds": 0,  # the customer's answer → the first hangup
            "hung_up_by": "customer",  # customers-00000007;2 hangs up first
            "hangup_cause": 16,
            "recording": "/var/spool/asterisk/monitor/1796584728.12.wav",
        }
    ],
    "pbx_core_stop_and_login_during_shutdown": [
        {
            "linkedid": "1796584881.0",
            "direction": "inbound",
            "caller": "13800200007",
            "dialed": None,
            "queue": "service",
            "agents_rung": ["Local/1002@agents/n"],
            "agent": None,
            "outcome": "abandoned",  # the caller gave up while `core stop gracefully` waited
            "wait_seconds": 6,
            "ring_seconds": None,
            "talk_seconds": None,
            "hung_up_by": "customer",
            "hangup_cause": 16,
            "recording": None,
        }
    ],
    "pbx_core_stop_and_login_during_shutdown.login": [],
}
KEYS = list(EXPECTED["inbound_queue_answered"][0])


def _messages(name: str) -> list[Message]:
    return list(read_capture((FIXTURES / f"{name}.txt").read_bytes()))


def _fold(messages: list[Message]) -> list[dict]:
    """The calls, with messages 1 ms apart as `callcentre ami replay` spaces them (measured
    durations then round to the same whole seconds)."""
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for message in messages:
        at += timedelta(milliseconds=1)
        if "Event" in message:
            tracker.feed(message, at)
    return [
        {k: r.replay_json()[k] for k in KEYS} for r in tracker.recent_calls() + tracker.live_calls()
    ]


def test_every_fixture_is_covered() -> None:
    names = {
        p.name.removesuffix(".txt")
        for p in FIXTURES.glob("*.txt")
        if not p.name.endswith(".sent.txt")
    }
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay_gives_the_calls_in_the_capture(name: str) -> None:
    assert [
        {k: r.replay_json()[k] for k in KEYS} for r in replay([FIXTURES / f"{name}.txt"])
    ] == EXPECTED[name]


def test_replay_command_prints_one_json_object_per_call() -> None:
    files = [
        str(FIXTURES / f"{n}.txt") for n in ("inbound_queue_answered", "callback_busy", "login_ok")
    ]
    result = subprocess.run(
        [sys.executable, "-m", "web.cli", "ami", "replay", *files],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["linkedid"] for line in lines] == ["1795438127.0", "1795438152.12"]
    for line, expected in zip(
        lines, EXPECTED["inbound_queue_answered"] + EXPECTED["callback_busy"], strict=True
    ):
        assert {k: line[k] for k in KEYS} == expected


CALL_FIXTURES = [
    "inbound_queue_answered",
    "live_call_queries",
    "outbound_callback_dial_bridged",
    "callback_busy",
    "inbound_answered_first_abandoned",
    "inbound_joinempty",
    "callback_agent_first_answered",
    "pbx_core_stop_and_login_during_shutdown",
]


@pytest.mark.parametrize("name", CALL_FIXTURES)
@pytest.mark.parametrize("seed", range(5))
def test_originate_response_and_cdr_may_land_anywhere(name: str, seed: int) -> None:
    messages = _messages(name)
    rng = random.Random(seed)
    movable = [m for m in messages if m.get("Event") in ("OriginateResponse", "Cdr")]
    rest = [m for m in messages if m not in movable]
    first_call_event = next(i for i, m in enumerate(rest) if m.get("Event") == "Newchannel")
    for message in movable:
        rest.insert(rng.randint(first_call_event + 1, len(rest)), message)
    assert _fold(rest) == EXPECTED[name]


@pytest.mark.parametrize("name", CALL_FIXTURES)
def test_duplicated_dial_and_hangup_events_change_nothing(name: str) -> None:
    doubled = []
    for message in _messages(name):
        doubled.append(message)
        if message.get("Event") in (
            "DialEnd",
            "DialBegin",
            "AgentCalled",
            "Hangup",
            "BridgeEnter",
            "Newchannel",
            "AgentConnect",
        ):
            doubled.append(message)
    assert _fold(doubled) == EXPECTED[name]


@pytest.mark.parametrize("name", CALL_FIXTURES)
def test_unknown_events_and_varset_floods_change_nothing(name: str) -> None:
    noisy = []
    for i, message in enumerate(_messages(name)):
        noisy.append(message)
        noisy.append(
            Message(
                {
                    "Event": "VarSet",
                    "Variable": f"NOISE_{i}",
                    "Value": "x",
                    "Uniqueid": message.get("Uniqueid", ""),
                }
            )
        )
        noisy.append(Message({"Event": "SomethingNew", "Linkedid": "1795438127.0"}))
    assert _fold(noisy) == EXPECTED[name]


def test_screen_pop_events_of_the_queue_call() -> None:
    tracker = CallTracker()
    events = []
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for message in _messages("inbound_queue_answered"):
        if "Event" in message:
            at += timedelta(milliseconds=10)
            events += tracker.feed(message, at)
    rings = [e for e in events if isinstance(e, AgentRinging)]
    assert [(e.extension, e.caller, e.queue) for e in rings] == [
        ("1002", "13800138000", "service"),
        ("1001", "13800138000", "service"),
    ]
    answered = [e for e in events if isinstance(e, CallAnswered)]
    assert [(e.extension, e.interface) for e in answered] == [("1001", "Local/1001@agents/n")]
    stopped = [e for e in events if isinstance(e, RingStopped)]
    assert [(e.extension, e.reason) for e in stopped] == [("1002", "answered_elsewhere")]
    # The pop goes out before the answer, the end comes last and only once.
    assert events.index(rings[1]) < events.index(answered[0])
    assert [type(e) for e in events].count(CallEnded) == 1
    assert isinstance(events[-1], CallEnded)


def _events(name: str) -> list[object]:
    tracker = CallTracker()
    events: list[object] = []
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for message in _messages(name):
        if "Event" in message:
            at += timedelta(milliseconds=10)
            events += tracker.feed(message, at)
    return events


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_inbound_call_is_announced_once_before_any_phone_rings(name: str) -> None:
    """CallArrived: the caller's card is read while the PBX answers and queues the call."""
    events = _events(name)
    inbound = {
        call["linkedid"]: call["caller"]
        for call in EXPECTED[name]
        if call["direction"] == "inbound" and call["caller"]
    }
    arrived = [e for e in events if isinstance(e, CallArrived)]
    assert {e.linkedid: e.caller for e in arrived} == inbound
    assert len(arrived) == len(inbound)  # once per call, whatever updates follow
    for event in arrived:
        rings = [
            i
            for i, e in enumerate(events)
            if isinstance(e, AgentRinging) and e.linkedid == event.linkedid
        ]
        assert all(events.index(event) < i for i in rings)


def test_agent_first_callback_rings_the_agent_with_the_customer_number() -> None:
    messages = _messages("outbound_callback_dial_bridged")
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    # The dialer passes the attempt and the customer's number as originate variables.
    index = next(i for i, m in enumerate(messages) if m.get("Event") == "Newchannel")
    for variable, value in (("CC_ATTEMPT_ID", "42"), ("CC_CUSTOMER_NUMBER", "13900139000")):
        messages.insert(
            index + 1,
            Message(
                {
                    "Event": "VarSet",
                    "Channel": "Local/1001@agent-phone-00000004;1",
                    "Uniqueid": "1795438143.8",
                    "Linkedid": "1795438143.8",
                    "Variable": variable,
                    "Value": value,
                }
            ),
        )
    events = []
    for message in messages:
        if "Event" in message:
            events += tracker.feed(message, at)
    ring = next(e for e in events if isinstance(e, AgentRinging))
    assert (ring.extension, ring.caller, ring.attempt_id, ring.direction) == (
        "1001",
        "13900139000",
        42,
        "outbound",
    )
    record = next(e for e in events if isinstance(e, CallEnded)).record
    assert record.attempt_id == 42 and record.customer_number == "13900139000"


def test_fixture_paths_exist() -> None:
    assert Path(FIXTURES).is_dir()


def _live_list(tracker: CallTracker) -> list[dict[str, str]]:
    """What CoreShowChannels answers now: one item per channel the tracker has up."""
    return [
        {"Event": "CoreShowChannel", "Channel": c.name, "Uniqueid": uid, "Linkedid": linkedid}
        for linkedid, call in tracker._open.items()
        for uid, c in call.channels.items()
        if not c.hung_up
    ]


@pytest.mark.parametrize(
    "name", ["callback_agent_first_answered", "outbound_callback_dial_bridged"]
)
def test_a_live_list_answered_while_the_call_hangs_up_does_not_end_it_twice(name: str) -> None:
    """Issue 19's busy day: agents got `ended` twice for agent-first callbacks. The list of
    live channels (the bridge's resync) is answered while events keep coming; the call's
    Hangups, arriving during the list, are applied before it, and the list still names the
    channels. It must not reopen the ended call, to end it again at the next resync."""
    messages = [m for m in _messages(name) if "Event" in m]
    first_hangup = next(i for i, m in enumerate(messages) if m.get("Event") == "Hangup")
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    events = []
    for message in messages[:first_hangup]:
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    tracker.resync_asked()
    listed = _live_list(tracker)  # the PBX lists the channels still up...
    assert listed
    for message in messages[first_hangup:]:  # ...and the hangups arrive before the list ends
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    events += tracker.resync(listed, at)
    assert tracker.live_calls() == []
    events += tracker.resync([], at + timedelta(minutes=5))  # the next periodic resync
    assert [type(e) for e in events].count(CallEnded) == 1
    assert _fold(messages) == EXPECTED[name]


@pytest.mark.parametrize(
    "name", ["callback_agent_first_answered", "outbound_callback_dial_bridged"]
)
def test_a_call_begun_after_the_live_list_was_asked_for_is_not_ended_by_it(name: str) -> None:
    """The list asked for before the call's first channel answers without it: the call is
    newer than the list, not over. Ending it would reopen it at its next channel and end it
    a second time."""
    messages = [m for m in _messages(name) if "Event" in m]
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    tracker.resync_asked()
    events = []
    first_dial = next(i for i, m in enumerate(messages) if m.get("Event") == "DialBegin")
    for message in messages[: first_dial + 1]:
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    events += tracker.resync([], at)  # the list predates the call
    assert CallEnded not in [type(e) for e in events]
    assert len(tracker.live_calls()) == 1
    for message in messages[first_dial + 1 :]:
        at += timedelta(milliseconds=1)
        events += tracker.feed(message, at)
    events += tracker.resync([], at + timedelta(minutes=5))
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert len(ended) == 1 and not ended[0].record.end_inferred


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_one_agents_calls_cost_only_their_own_records(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent's state push (three a call) asks for that agent's calls: at every point of
    every capture, the filtered answer is the whole floor's filtered, and building it makes
    records for that agent's calls alone, however many other calls are live."""
    tracker = CallTracker()
    built: list[str] = []
    record = tracker._record

    def counting(call: Any) -> Any:
        built.append(call.linkedid)
        return record(call)

    at = datetime(2026, 11, 23, tzinfo=UTC)
    for message in _messages(name):
        if "Event" not in message:
            continue
        at += timedelta(milliseconds=10)
        tracker.feed(message, at)
        every = tracker.live_calls()
        rings = tracker.ringing_phones()
        extensions = {r.agent_extension for r in every} | {r.extension for r in rings}
        for extension in sorted(e for e in extensions if e):
            monkeypatch.setattr(tracker, "_record", counting)
            built.clear()
            mine = tracker.live_calls(agents={extension})
            assert built == [r.linkedid for r in mine]
            monkeypatch.setattr(tracker, "_record", record)
            assert mine == [r for r in every if r.agent_extension == extension]
            assert tracker.ringing_phones(agents={extension}) == [
                r for r in rings if r.extension == extension
            ]
