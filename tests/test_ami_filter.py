"""The bridge's event filter: frames the tracker never uses are dropped before parsing, and
dropping them changes nothing the tracker concludes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from crm.clock import SystemClock
from telephony.ami.bad_frames import BadFrames
from telephony.ami.client import _Protocol
from telephony.ami.framing import EventFilter, FrameDecoder, parse_frame
from telephony.bridge import bridge_event_filter
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES

CALLS = (
    "inbound_queue_answered",
    "outbound_callback_dial_bridged",
    "callback_busy",
    "inbound_answered_first_abandoned",
    "inbound_joinempty",
    "callback_agent_first_answered",
    "pbx_core_stop_and_login_during_shutdown",
)


def _bridge_filter() -> EventFilter:
    return bridge_event_filter(CallTracker())


def _frames(name: str) -> list[str]:
    data = (FIXTURES / f"{name}.txt").read_bytes() + b"\r\n\r\n"
    return list(FrameDecoder(max_frame_chars=len(data)).feed(data))


def test_filter_keeps_responses_tracked_events_and_answers_to_our_actions() -> None:
    wanted = _bridge_filter()
    assert wanted.wants("Response: Success\r\nActionID: 1\r\nMessage: Pong")
    assert wanted.wants("Event: Hangup\r\nUniqueid: 1.1\r\nCause: 16")
    assert wanted.wants("Event: QueueMemberStatus\r\nQueue: service")
    assert wanted.wants("Event: VarSet\r\nChannel: x\r\nVariable: CALL_TYPE\r\nValue: inbound")
    assert not wanted.wants("Event: VarSet\r\nChannel: x\r\nVariable: BRIDGEPEER\r\nValue: y")
    assert not wanted.wants("Event: VarSet\r\nChannel: x")
    assert not wanted.wants("Event: Newexten\r\nChannel: x\r\nApplication: Dial")
    assert wanted.wants("Event: Newexten\r\nChannel: x\r\nApplication: Queue\r\nAppData: s")
    assert wanted.wants("Event: VarSet\r\nChannel: x\r\nVariable: QUEUESTATUS\r\nValue: x")
    # A list item answering one of our actions (CoreShowChannels) always passes.
    assert wanted.wants("Event: CoreShowChannel\r\nActionID: cc-1\r\nChannel: x")
    assert wanted.wants("Event: Shutdown\r\nShutdown: Cleanly")


def test_filtered_captures_give_the_same_calls() -> None:
    wanted = _bridge_filter()
    for name in CALLS:
        frames = _frames(name)
        kept = [f for f in frames if wanted.wants(f)]
        assert len(kept) <= len(frames) / 2, name  # most of the traffic is skipped
        results = []
        for chosen in (frames, kept):
            tracker = CallTracker()
            at, events = datetime(2026, 11, 23, tzinfo=UTC), []
            for frame in chosen:
                message = parse_frame(frame)
                if message is not None and "Event" in message:
                    at += timedelta(milliseconds=1)
                    events += [type(e).__name__ for e in tracker.feed(message, at)]
            results.append((events, [r.replay_json() for r in tracker.recent_calls()]))
        assert results[0] == results[1], name
        assert results[0][1], name


class _Factory:
    def __init__(self, event_filter: EventFilter | None) -> None:
        self.bad_frames = BadFrames(SystemClock())  # what the client's manager keeps
        self.event_filter = event_filter
        self.events: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)


class _Transport(asyncio.Transport):
    def close(self) -> None:
        pass


def test_protocol_applies_its_factorys_filter() -> None:
    data = (FIXTURES / "inbound_queue_answered.txt").read_bytes()
    counts = []
    for event_filter in (None, _bridge_filter()):
        protocol = _Protocol()
        protocol.connection_made(_Transport())
        factory = _Factory(event_filter)
        protocol.factory = factory
        protocol.data_received(data)
        counts.append(
            [
                m["Event"] + (f":{m['Application']}" if m["Event"] == "Newexten" else "")
                for m in factory.events
            ]
        )
    unfiltered, filtered = counts
    assert "Newexten:Dial" not in unfiltered or "Newexten:Dial" not in filtered
    assert {e for e in filtered if e.startswith("Newexten")} == {"Newexten:Queue"}
    assert {e for e in unfiltered if e.startswith("Newexten")} > {"Newexten:Queue"}
    assert [e for e in unfiltered if e in filtered and e != "VarSet"] == [
        e for e in filtered if e != "VarSet"
    ]
