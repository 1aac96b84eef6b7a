"""What the call tracker keeps of ended calls: each whole for a minute (late events, the
wallboard until the database has it), its id and callback attempt far longer. The memory a
tracker holds follows the call rate, not the number of calls since the process started (issue
19's busy day: a window of the last 5,000 whole calls grew the bridge all day)."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from panoramisk.message import Message

from telephony.ami.framing import read_capture
from telephony.events import CallEnded, DomainEvent
from telephony.tracker import RECENT_WINDOW, CallTracker
from tests.conftest import FIXTURES

START = datetime(2026, 11, 23, 8, tzinfo=UTC)
UNIQUEID = re.compile(r"^(\d{10})\.(\d+)$")
ATTEMPT = "CC_ATTEMPT_ID="


def _capture(name: str) -> list[Message]:
    return [m for m in read_capture((FIXTURES / f"{name}.txt").read_bytes()) if "Event" in m]


def _copy(messages: list[Message], n: int) -> Iterator[dict[str, str]]:
    """The capture's call as the `n`th of a day: its own uniqueids, linkedid and attempt."""
    for message in messages:
        yield {key: _renumbered(message, key, value, n) for key, value in message.items()}


def _renumbered(message: Message, key: str, value: str, n: int) -> str:
    if isinstance(value, str) and (m := UNIQUEID.match(value)):
        return f"{m.group(1)}.{int(m.group(2)) + 1000 * (n + 1)}"
    if isinstance(value, str) and value.startswith(ATTEMPT):
        return f"{ATTEMPT}{100_000 + n}"
    if key == "Value" and message.get("Variable") == "CC_ATTEMPT_ID":
        return str(100_000 + n)
    return value


def _day(
    tracker: CallTracker, name: str, calls: int, *, every: timedelta, first: int = 0
) -> list[DomainEvent]:
    """`calls` copies of the capture's call, one starting every `every`."""
    messages = _capture(name)
    out: list[DomainEvent] = []
    for n in range(first, first + calls):
        at = START + every * n
        for message in _copy(messages, n):
            at += timedelta(milliseconds=1)
            out += tracker.feed(message, at)
    return out


def _ended(events: list[DomainEvent]) -> list[str]:
    return [e.record.linkedid for e in events if isinstance(e, CallEnded)]


def test_a_call_is_kept_whole_for_the_window_and_known_as_ended_after() -> None:
    tracker = CallTracker()
    ended = _ended(_day(tracker, "callback_agent_first_answered", 300, every=timedelta(seconds=2)))
    assert len(ended) == 300 and tracker.live_calls() == []
    # Whole: the calls that ended within the last minute (one every 2 s), oldest first.
    whole = [r.linkedid for r in tracker.recent_calls()]
    per_window = RECENT_WINDOW // timedelta(seconds=2)
    assert per_window <= len(whole) <= per_window + 1
    assert whole == ended[-len(whole) :]
    # Known as ended, every one, with its callback attempt (the dialer's lost-attempt sweep).
    assert all(tracker.ended(linkedid) for linkedid in ended)
    assert tracker.ended_attempts() == {100_000 + n for n in range(300)}
    assert not tracker.ended("1795438000.999999")


def test_the_whole_calls_kept_are_capped_whatever_the_rate() -> None:
    tracker = CallTracker(recent_limit=50)
    _day(tracker, "inbound_queue_answered", 200, every=timedelta(milliseconds=100))
    assert len(tracker.recent_calls()) == 50  # 600 ended within the minute
    assert sum(tracker.ended(r.linkedid) for r in tracker.recent_calls()) == 50


def test_the_ended_ids_are_capped() -> None:
    tracker = CallTracker(ended_limit=100)
    ended = _ended(_day(tracker, "callback_agent_first_answered", 150, every=timedelta(minutes=1)))
    assert [tracker.ended(linkedid) for linkedid in ended] == [False] * 50 + [True] * 100
    assert tracker.ended_attempts() == {100_000 + n for n in range(50, 150)}


def test_a_late_event_within_the_window_still_finds_its_call() -> None:
    """A straggler for a call that ended seconds ago joins that call (not a new one), as
    before: the events the tracker must not take for a new call come within the window."""
    tracker = CallTracker()
    messages = _capture("inbound_queue_answered")
    ended = _ended(_day(tracker, "inbound_queue_answered", 1, every=timedelta(seconds=1)))
    [linkedid] = ended
    late = dict(next(_copy([m for m in messages if m["Event"] == "Hangup"], 0)))
    events = tracker.feed(late, START + timedelta(seconds=30))
    assert tracker.live_calls() == [] and _ended(events) == []
    assert [r.linkedid for r in tracker.recent_calls()] == [linkedid]


def test_memory_follows_the_call_rate_not_the_day() -> None:
    """Once a minute's calls are held, more calls cost their ids alone: well under 1 kB a
    call, where a whole call kept costs about 3.5 kB."""
    tracker = CallTracker()
    every = timedelta(seconds=2)
    _day(tracker, "callback_agent_first_answered", 60, every=every)  # a full window
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _day(tracker, "callback_agent_first_answered", 500, every=every, first=60)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_call = (after - before) / 500
    assert per_call < 1000, per_call
    assert len(tracker.recent_calls()) <= RECENT_WINDOW // every + 1


def test_an_originates_expectation_ends_with_its_response() -> None:
    """The dialer tells the tracker of each Originate before sending it; Asterisk answers
    each with one OriginateResponse, after which nothing is left to tie to it. Kept, they
    filled the tracker's window of 1,000 over a morning's dials."""
    tracker = CallTracker()
    for n in range(3):
        tracker.expect_originate(f"dial-{n}", attempt_id=n, dialed=f"1390013900{n}")

    def response(n: int, outcome: str) -> dict[str, str]:
        return {
            "Event": "OriginateResponse",
            "ActionID": f"dial-{n}",
            "Response": outcome,
            "Channel": f"PJSIP/1390013900{n}@trunk",
            "Reason": "5" if outcome == "Failure" else "4",
            "Uniqueid": "<unknown>",
        }

    [ended] = [e for e in tracker.feed(response(0, "Failure"), START) if isinstance(e, CallEnded)]
    assert ended.record.attempt_id == 0  # the expectation served before it went
    tracker.feed(response(1, "Success"), START)
    assert list(tracker._expected) == ["dial-2"]  # never answered yet: still expected
    # The same failure told twice is still one call, without its expectation.
    assert not [e for e in tracker.feed(response(0, "Failure"), START) if isinstance(e, CallEnded)]
