"""The tracker never crashes, whatever the PBX (or a broken proxy) sends it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from telephony.ami.framing import read_capture
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES

NAMES = [
    "Newchannel",
    "NewCallerid",
    "VarSet",
    "DialBegin",
    "DialEnd",
    "QueueCallerJoin",
    "AgentCalled",
    "AgentRingNoAnswer",
    "AgentConnect",
    "AgentComplete",
    "QueueCallerAbandon",
    "BridgeEnter",
    "MixMonitorStart",
    "HangupRequest",
    "SoftHangupRequest",
    "Hangup",
    "OriginateResponse",
    "Cdr",
    "SomethingNew",
    "",
]
HEADERS = [
    "Uniqueid",
    "Linkedid",
    "Channel",
    "DestUniqueid",
    "DestChannel",
    "DestLinkedid",
    "DialString",
    "DialStatus",
    "Interface",
    "Queue",
    "HoldTime",
    "RingTime",
    "TalkTime",
    "Reason",
    "Response",
    "ActionID",
    "Cause",
    "CallerIDNum",
    "Variable",
    "Value",
    "BridgeUniqueid",
    "Duration",
    "Application",
    "ApplicationData",
    "BridgeId",
]
IDS = st.sampled_from(["1.1", "1.2", "1.3", "2.1", "<unknown>", "", "1.1 ", "9" * 300])
VALUES = st.one_of(
    IDS,
    st.text(max_size=40),
    st.sampled_from(
        [
            "PJSIP/1001-00000001",
            "PJSIP/trunk-00000002",
            "Local/1001@agents-00000003;1",
            "ANSWER",
            "CANCEL",
            "BUSY",
            "4",
            "5",
            "-1",
            "1e309",
            "nan",
            "CALL_TYPE",
            "callback",
            "CC_ATTEMPT_ID",
            "12x",
            "MIXMONITOR_FILENAME",
            "a" * 100_000,
        ]
    ),
)
EVENTS = st.builds(
    lambda name, headers: Message({"Event": name, **headers}),
    st.sampled_from(NAMES),
    st.dictionaries(
        st.sampled_from(HEADERS), st.one_of(VALUES, st.lists(VALUES, max_size=3)), max_size=10
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(EVENTS, max_size=60), st.integers(0, 3))
def test_random_events_never_crash_the_tracker(events: list[Message], resyncs: int) -> None:
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for event in events:
        at += timedelta(seconds=1)
        tracker.feed(event, at)
    for _ in range(resyncs):
        tracker.resync([e for e in events if e.get("Event") == "Newchannel"], at)
    for record in tracker.live_calls() + tracker.recent_calls():
        record.replay_json()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_real_calls_survive_lost_and_repeated_events(data: st.DataObject) -> None:
    messages = [
        m
        for m in read_capture((FIXTURES / "inbound_queue_answered.txt").read_bytes())
        if "Event" in m
    ]
    keep = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    repeat = data.draw(st.lists(st.booleans(), min_size=len(messages), max_size=len(messages)))
    tracker = CallTracker()
    at = datetime(2026, 11, 23, tzinfo=UTC)
    for message, kept, repeated in zip(messages, keep, repeat, strict=True):
        for _ in range(kept + repeated):
            at += timedelta(milliseconds=5)
            tracker.feed(message, at)
    tracker.resync([], at)  # the PBX says nothing is live any more: everything ends
    assert tracker.live_calls() == []
    assert len(tracker.recent_calls()) <= 1  # one linkedid, one call, however garbled
