"""Hostile AMI streams against the real bridge over a real socket.

Every capture from the real Asterisk (../shared/fixtures/ami) goes down one TCP connection to
a Bridge storing calls in SQLite, with what a broken peer or proxy adds: frames cut at random
byte offsets across writes, binary garbage (NULs, bytes that are not UTF-8), lines without
": ", headers without values, a 1 MB frame, unknown events, known events with empty headers,
a frame with two Event headers; and what a real Asterisk itself does: DialEnd twice, Cdr and
OriginateResponse anywhere in their call. The bridge must never stop, keep its connection,
store every call exactly as a clean replay of the same captures gives it, count every bad
frame by kind, and log each one once, a few lines a minute per kind at most.

CI runs a fixed set of examples (derandomized); `AMI_FUZZ_EXAMPLES=500` runs a longer,
random search.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from panoramisk.message import Message
from sqlalchemy import select

from crm.bus import LocalBus
from crm.calls.models import Call
from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.phones import lookup_key
from crm.settings import load_settings
from telephony.ami.bad_frames import BadFrame, BadFrames, LogBudget
from telephony.ami.framing import MAX_FRAME_CHARS, FrameDecoder
from telephony.bridge import Bridge, bridge_event_filter
from telephony.events import CallRecord
from telephony.replay import replay
from telephony.tracker import CallTracker
from tests.conftest import FIXTURES
from tests.support.scripted_ami import ScriptedAmi, frame
from tests.support.waiting import until

EXAMPLES = int(os.environ.get("AMI_FUZZ_EXAMPLES", "0"))
AREA_CODE = "029"
END = b"\r\n\r\n"
# Its last frame is Shutdown, after which a real Asterisk closes the connection: it goes last.
SHUTDOWN = "pbx_core_stop_and_login_during_shutdown.txt"
CAPTURES = sorted(
    p.name
    for p in FIXTURES.glob("*.txt")
    if not p.name.endswith(".sent.txt") and p.name != SHUTDOWN
)


def _frames(name: str) -> list[str]:
    data = (FIXTURES / name).read_bytes()
    return list(FrameDecoder(max_frame_chars=len(data) + 1).feed(data + END))


FRAMES = {name: _frames(name) for name in [*CAPTURES, SHUTDOWN]}


def _event(text: str) -> str | None:
    first = text.split("\r\n", 1)[0]
    return first[7:] if first.startswith("Event: ") else None


# -- what a real Asterisk may do to the order (fixtures README, "Quirks") ----------------------


@st.composite
def asterisk_order(draw: st.DrawFn, name: str) -> list[str]:
    """The capture's frames with DialEnd repeated and Cdr / OriginateResponse moved anywhere
    after the call's first channel, as a real Asterisk does from run to run."""
    frames = FRAMES[name]
    movable = [f for f in frames if _event(f) in ("Cdr", "OriginateResponse")]
    rest: list[str] = []
    for text in frames:
        if text in movable:
            continue
        rest.append(text)
        if _event(text) == "DialEnd" and draw(st.booleans()):
            rest.append(text)
    starts = [i for i, f in enumerate(rest) if _event(f) == "Newchannel"]
    first = starts[0] + 1 if starts else 0
    for text in movable:
        rest.insert(draw(st.integers(first, len(rest))), text)
    return rest


# -- what a broken peer adds ------------------------------------------------------------------


@dataclass(frozen=True)
class Garbage:
    data: bytes  # one whole frame, its end included
    kind: BadFrame | None  # what the bridge must count it as; None: a frame it may ignore


def _no_headers(data: bytes) -> bytes:
    """Bytes that can hold no header and no frame end: no colon, no line feed."""
    return b"\x00" + data.replace(b":", b"").replace(b"\n", b"")


HANDLED = sorted(CallTracker().handled_events)
HEADER_NAMES = ["Uniqueid", "Linkedid", "Channel", "DestUniqueid", "Queue", "Variable", "Value"]

binary_garbage = st.binary(min_size=1, max_size=300).map(
    lambda b: Garbage(_no_headers(b) + END, BadFrame.UNPARSABLE)
)
line_garbage = st.lists(
    st.one_of(
        st.sampled_from(["Event", "Uniqueid:", "Linkedid:", "Response", "nonsense", "Event:"]),
        st.text(st.characters(blacklist_characters=":\r\n"), min_size=1, max_size=40),
    ),
    min_size=1,
    max_size=6,
).map(lambda lines: Garbage(("\x00" + "\r\n".join(lines)).encode() + END, BadFrame.UNPARSABLE))
unknown_event = st.builds(
    lambda name, linkedid, action: Garbage(
        frame(Event=f"Fuzz{name}", Linkedid=linkedid, **({"ActionID": "fuzz"} if action else {})),
        None,
    ),
    st.text("ABCXYZ", min_size=1, max_size=8),
    st.sampled_from(["1795438127.0", "1796584728.12", ""]),
    st.booleans(),
)
empty_known_event = st.builds(
    lambda name, headers: Garbage(
        ("\r\n".join([f"Event: {name}", *(f"{h}: " for h in headers)])).encode() + END, None
    ),
    st.sampled_from(HANDLED),
    st.lists(st.sampled_from(HEADER_NAMES), unique=True, max_size=4),
)
# VarSet and Newexten pass the filter only for some variables and applications.
two_event_headers = st.sampled_from([n for n in HANDLED if n not in ("VarSet", "Newexten")]).map(
    lambda name: Garbage(
        f"Event: {name}\r\nEvent: {name}\r\nUniqueid: fuzz.1\r\nLinkedid: fuzz.1".encode() + END,
        BadFrame.FAILED,
    )
)
# A 1 MB line, ended just past the cap (in the read that crosses it) or far past it (the
# decoder is then dropping it when the end comes, reads later).
oversized = st.one_of(st.integers(1, 64), st.integers(300_000, 700_000)).map(
    lambda extra: Garbage(
        b"Event: VarSet\r\nValue: " + b"a" * (MAX_FRAME_CHARS + extra) + END, BadFrame.OVERSIZED
    )
)
GARBAGE = st.one_of(
    binary_garbage, line_garbage, unknown_event, empty_known_event, two_event_headers
)

# Appended to a real event: changes nothing it says, costs none of it.
JUNK_LINES = st.sampled_from(["nonsense line", "X-Fuzz-Empty:", "X-Fuzz-Blank: ", "\t"])


class Stream:
    def __init__(self, captures: list[str]) -> None:
        self.captures = captures
        self.frames: list[bytes] = []
        self.bad: Counter[str] = Counter()  # what the bridge must count
        self.garbage: Counter[str] = Counter()  # what was added, for the figures

    def __repr__(self) -> str:  # the frames themselves run to megabytes
        return f"Stream(captures={self.captures}, frames={len(self.frames)}, {dict(self.garbage)})"

    def events_to_apply(self) -> int:
        """The events the bridge must apply: every frame it reads whole with one Event
        header that its filter lets through."""
        wanted = bridge_event_filter(CallTracker())
        count = 0
        for data in self.frames:
            text = data.decode("utf-8", "replace").strip("\r\n")
            if len(text) > MAX_FRAME_CHARS or not wanted.wants(text):
                continue
            message = Message.from_line(text)
            count += message is not None and isinstance(message.get("Event"), str)
        return count

    def add(self, data: bytes, kind: BadFrame | None, label: str) -> None:
        self.frames.append(data)
        self.garbage[label] += 1
        if kind is not None:
            self.bad[kind.value] += 1
        if kind is not BadFrame.OVERSIZED and "\ufffd" in data.decode("utf-8", "replace"):
            self.bad[BadFrame.NOT_UTF8.value] += 1


@st.composite
def hostile_streams(draw: st.DrawFn) -> tuple[Stream, list[int]]:
    """All the captures, in a drawn order, with garbage between frames and junk inside some;
    and the byte offsets the stream is cut at into TCP writes."""
    names = [*draw(st.permutations(CAPTURES)), SHUTDOWN]
    stream = Stream(names)
    real = [text for name in names for text in draw(asterisk_order(name))]
    garbage_at = Counter(draw(st.lists(st.integers(0, len(real) - 2), min_size=5, max_size=80)))
    big_at = draw(st.sets(st.integers(0, len(real) - 2), min_size=1, max_size=2))
    for index, text in enumerate(real):
        for _ in range(garbage_at[index]):
            item = draw(GARBAGE)
            stream.add(item.data, item.kind, item.kind.value if item.kind else "ignored")
        if index in big_at:
            item = draw(oversized)
            stream.add(item.data, item.kind, "oversized")
        if _event(text) and index < len(real) - 1 and draw(st.integers(0, 9)) == 0:
            junk = draw(JUNK_LINES)
            if draw(st.booleans()):  # and bytes that are not UTF-8
                data = (text + "\r\nX-Fuzz: ").encode() + b"\xff\xfe\xc3" + END
                stream.add(data, None, "not_utf8 inside an event")
            else:
                stream.add(f"{text}\r\n{junk}".encode() + END, None, "junk line inside an event")
        else:
            stream.frames.append(text.encode() + END)
    size = sum(len(f) for f in stream.frames)
    cuts = sorted(draw(st.sets(st.integers(1, size - 1), min_size=10, max_size=80)))
    return stream, cuts


# -- the rig ----------------------------------------------------------------------------------


class TickingClock:
    """Each reading a microsecond after the last: events measured apart as `replay` spaces
    them (much less than a second), whatever the machine's speed or a reconnect's pause."""

    def __init__(self) -> None:
        self._at = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self._at += timedelta(microseconds=1)
        return self._at

    def monotonic(self) -> float:  # the bridge's settling and the AMI timeouts: real time
        return time.monotonic()


def _empty_list(complete: str) -> Callable[[dict[str, str]], bytes]:
    def reply(action: dict[str, str]) -> bytes:
        action_id = action["ActionID"]
        return frame(
            Response="Success", ActionID=action_id, EventList="start", Message="listed"
        ) + frame(Event=complete, ActionID=action_id, EventList="Complete", ListItems="0")

    return reply


class BadFrameLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def per_kind(self) -> Counter[str]:
        return Counter(
            line.split("(", 1)[1].split(")", 1)[0]
            for line in self.lines
            if line.startswith("bad AMI frame (")
        )


@dataclass
class Outcome:
    rows: dict[str, dict[str, object]]
    bad: dict[str, int]
    logged: Counter[str]
    held_back_lines: int
    events_applied: int
    connections: int
    tasks_alive: bool
    frames_sent: int


def _row(call: Call) -> dict[str, object]:
    return {
        "uniqueid": call.uniqueid,
        "direction": call.direction.value,
        "caller": call.caller,
        "dialed": call.dialed,
        "customer_number": call.customer_number,
        "queue": call.queue,
        "agents_rung": list(call.agents_rung or ()),
        "agent": call.agent_interface,
        "outcome": call.outcome.value if call.outcome else None,
        "answered": call.answered_at is not None,
        "ended": call.ended_at is not None,
        "wait_seconds": call.wait_seconds,
        "ring_seconds": call.ring_seconds,
        "talk_seconds": call.talk_seconds,
        "hung_up_by": call.hung_up_by.value if call.hung_up_by else None,
        "hangup_cause": call.hangup_cause,
        "recording": call.recording,
        "recording_agent": call.recording_agent,
        "recording_customer": call.recording_customer,
        "end_inferred": call.end_inferred,
    }


def _expected(record: CallRecord) -> dict[str, object]:
    """What the calls table holds for a call of the clean replay."""
    return {
        "uniqueid": record.uniqueid,
        "direction": record.direction,
        "caller": record.caller,
        "dialed": record.dialed,
        "customer_number": lookup_key(record.customer_number, default_area_code=AREA_CODE),
        "queue": record.queue,
        "agents_rung": list(record.agents_rung),
        "agent": record.agent,
        "outcome": record.outcome,
        "answered": record.answered_at is not None,
        "ended": record.ended_at is not None,
        "wait_seconds": record.wait_seconds,
        "ring_seconds": record.ring_seconds,
        "talk_seconds": record.talk_seconds,
        "hung_up_by": record.hung_up_by,
        "hangup_cause": record.hangup_cause,
        "recording": record.recording,
        "recording_agent": record.recording_agent,
        "recording_customer": record.recording_customer,
        "end_inferred": record.end_inferred,
    }


async def _send(peer: ScriptedAmi, stream: Stream, cuts: list[int]) -> None:
    """The stream in pieces cut at `cuts`, each its own write, with pauses so that most reach
    the bridge as separate reads."""
    data = b"".join(stream.frames)
    [writer] = [w for w in peer.writers if not w.is_closing()]
    for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
        writer.write(data[start:end])
        await writer.drain()
        await asyncio.sleep(0.001)


async def _run(template: Path, stream: Stream, cuts: list[int]) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="ami-fuzz-") as root:
        path = Path(root) / "callcentre.db"
        shutil.copyfile(template, path)
        database = Database(f"sqlite+aiosqlite:///{path}")
        peer = ScriptedAmi(
            replies={
                "CoreShowChannels": _empty_list("CoreShowChannelsComplete"),
                "QueueStatus": _empty_list("QueueStatusComplete"),
            }
        )
        port = await peer.start()
        settings_ = load_settings(
            database_url=database.url,
            ami_port=port,
            ami_secret="test",
            ami_ping_interval=2.0,
            ami_ping_timeout=2.0,
            ami_reconnect_min=0.05,
            ami_reconnect_max=0.1,
            default_area_code=AREA_CODE,
        )
        bus = LocalBus()
        bridge = Bridge(settings_, database, bus, clock=TickingClock())
        handler = BadFrameLog()
        logger = logging.getLogger("telephony.ami.bad_frames")
        logger.addHandler(handler)
        try:
            await bridge.start()
            await until(lambda: bridge.synced_at is not None, timeout=10)
            await _send(peer, stream, cuts)
            # The Shutdown at the end: the bridge hears it, reconnects and resyncs.
            await until(
                lambda: bridge.client.connections == 2 and bridge.synced_at is not None,
                timeout=20,
            )
            await bridge.drain()
            tasks_alive = all(not task.done() for task in bridge._tasks)
            async with database.session() as session:
                calls = list(await session.scalars(select(Call)))
            return Outcome(
                rows={call.linkedid: _row(call) for call in calls},
                bad={k: v for k, v in bridge.health()["bad_frames"].items() if v},
                logged=handler.per_kind(),
                held_back_lines=sum("were not logged" in line for line in handler.lines),
                events_applied=bridge.events_processed,
                connections=bridge.client.connections,
                tasks_alive=tasks_alive,
                frames_sent=len(stream.frames),
            )
        finally:
            logger.removeHandler(handler)
            await bridge.stop()
            await bus.close()
            await peer.stop()
            await database.dispose()


CLEAN = {
    record.linkedid: _expected(record)
    for name in [*CAPTURES, SHUTDOWN]
    for record in replay([FIXTURES / name])
}


@pytest.mark.timeout(900)
def test_hostile_streams_lose_no_call(sqlite_template: Path) -> None:
    figures: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES or 30,
        derandomize=not EXAMPLES,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(hostile_streams())
    def example(streamed: tuple[Stream, list[int]]) -> None:
        stream, cuts = streamed
        outcome = asyncio.run(_run(sqlite_template, stream, cuts))
        assert outcome.tasks_alive, "a bridge task died"
        # One connection, one reconnect after the capture's Shutdown: garbage cost none.
        assert outcome.connections == 2
        assert outcome.rows == CLEAN
        assert outcome.events_applied == stream.events_to_apply()  # no frame lost on the way
        assert outcome.bad == dict(stream.bad)
        # Each bad frame logged once, at most LogBudget().per_window lines a kind (one window).
        budget = LogBudget().per_window
        assert outcome.logged == {kind: min(n, budget) for kind, n in stream.bad.items()}
        assert outcome.held_back_lines == 0
        figures.update(examples=1, frames=outcome.frames_sent, writes=len(cuts) + 1)
        figures.update(stream.garbage)

    started = time.monotonic()
    example()
    print(f"\nAMI fuzz in {time.monotonic() - started:.0f} s: {dict(figures)}")
    assert figures["examples"] >= min(EXAMPLES or 30, 30)
    assert figures["unparsable"] and figures["oversized"] and figures["failed"]


# -- the log budget on its own ----------------------------------------------------------------


def test_log_budget_allows_a_few_lines_a_window_then_says_how_many_it_held_back() -> None:
    budget = LogBudget(per_window=2, window=60.0)
    decisions = [budget.allow("unparsable", t) for t in (0.0, 1.0, 2.0, 3.0, 59.0)]
    assert decisions == [(True, 0), (True, 0), (False, 0), (False, 0), (False, 0)]
    assert budget.allow("oversized", 30.0) == (True, 0)  # each kind its own budget
    assert budget.allow("unparsable", 61.0) == (True, 3)  # a new window: says what it held
    assert budget.allow("unparsable", 62.0) == (True, 0)


def test_bad_frames_are_counted_even_when_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    clock = FixedClock(datetime(2026, 11, 23, tzinfo=UTC))
    frames = BadFrames(clock, LogBudget(per_window=1, window=10.0))
    with caplog.at_level(logging.WARNING, "telephony.ami.bad_frames"):
        for _ in range(1000):
            frames.report(BadFrame.UNPARSABLE, "'\\x00garbage'")
        clock.advance(seconds=11)
        frames.report(BadFrame.UNPARSABLE, "'\\x00more'")
    assert frames.counts["unparsable"] == 1001 and frames.total == 1001
    assert [r.getMessage() for r in caplog.records] == [
        "bad AMI frame (unparsable): '\\x00garbage'",
        "999 more bad AMI frame(s) (unparsable) were not logged in the last 10 s",
        "bad AMI frame (unparsable): '\\x00more'",
    ]
    assert frames.figures() == {
        kind.value: 1001 * (kind is BadFrame.UNPARSABLE) for kind in BadFrame
    }


def _decode(decoder: FrameDecoder, pieces: Iterator[bytes]) -> list[str]:
    return [text for piece in pieces for text in decoder.feed(piece)]


def test_a_frame_over_the_cap_is_dropped_to_its_end_in_any_cut() -> None:
    huge = b"Event: VarSet\r\nValue: " + b"a" * 100 + END
    data = frame(Event="Newchannel", Uniqueid="1") + huge + frame(Event="Hangup", Uniqueid="1")
    for size in (1, 2, 3, 5, 64, len(data)):
        decoder = FrameDecoder(max_frame_chars=50)
        texts = _decode(decoder, (data[i : i + size] for i in range(0, len(data), size)))
        assert texts == ["Event: Newchannel\r\nUniqueid: 1", "Event: Hangup\r\nUniqueid: 1"], size
        assert decoder.oversized == 1
        assert len(decoder._buffer) < 50


def test_a_failed_originate_response_naming_nothing_is_no_call() -> None:
    """Found by the fuzz: an OriginateResponse with empty headers was stored as a failed call
    `originate:`. Asterisk's always name the action or the channel; one that names neither
    says nothing about any call."""
    at = datetime(2026, 11, 23, tzinfo=UTC)
    tracker = CallTracker()
    nameless = {"Event": "OriginateResponse", "Response": "Failure", "Reason": "0"}
    assert tracker.feed(Message({**nameless, "ActionID": "", "Channel": ""}), at) == []
    assert tracker.recent_calls() == []
    named = tracker.feed(Message({**nameless, "Channel": "Local/13700137000@customers"}), at)
    assert [r.record.dialed for r in named if hasattr(r, "record")][:1] == ["13700137000"]


def test_bad_frames_by_kind_are_in_the_metrics() -> None:
    from web.metrics import Metrics

    metrics = Metrics()
    frames = BadFrames(SystemClock())
    frames.report(BadFrame.OVERSIZED, "a 1 MB line")
    metrics.watch(lambda: {"connected": True, "bad_frames": frames.figures()})
    text = metrics.render().decode()
    assert 'callcentre_pbx_bad_frames{kind="oversized"} 1.0' in text
    assert 'callcentre_pbx_bad_frames{kind="unparsable"} 0.0' in text
    assert "callcentre_pbx_connected 1.0" in text
