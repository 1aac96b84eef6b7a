"""What the simulator and the live PBX are compared on: the tracker's record of a call (fed
the AMI events as they arrived) and, channel by channel, the sequence of events the tracker
reads. Channels are named by role (customer, agent:<ext>) since names and ids differ."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from panoramisk.message import Message

from telephony.events import CallRecord
from telephony.tracker import CallTracker

_AGENT = re.compile(r"^(?:PJSIP|SIP|Local)/(\d{3,6})(?:[-@;]|$)")


def role(channel: str) -> str:
    if match := _AGENT.match(channel):
        return f"agent:{match.group(1)}"
    return "customer"


def track(events: list[tuple[float, Message]]) -> tuple[list[CallRecord], CallTracker]:
    """The tracker's calls from raw events with their arrival times (monotonic seconds)."""
    tracker = CallTracker()
    if not events:
        return [], tracker
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    first = events[0][0]
    for at, message in events:
        tracker.feed(message, start + timedelta(seconds=at - first))
    return tracker.recent_calls() + tracker.live_calls(), tracker


@dataclass(frozen=True, slots=True)
class Shape:
    """A call reduced to what must be the same on the simulator and the live PBX."""

    direction: str
    outcome: str | None
    hung_up_by: str | None
    hangup_cause: int | None
    queue: str | None
    agents_rung: tuple[str, ...]
    agent: str | None
    recordings: tuple[bool, bool, bool]
    answered: bool

    @classmethod
    def of(cls, record: CallRecord) -> Shape:
        return cls(
            record.direction,
            record.outcome,
            record.hung_up_by,
            record.hangup_cause,
            record.queue,
            tuple(sorted(role(a) for a in record.agents_rung)),
            role(record.agent) if record.agent else None,
            (bool(record.recording), bool(record.recording_agent), bool(record.recording_customer)),
            record.answered_at is not None,
        )


def sequences(
    events: list[tuple[float, Message]], linkedid: str, handled: frozenset[str]
) -> dict[str, list[str]]:
    """Per channel role, the tracked events of one call in order (VarSet with its variable;
    identical repeats, like app_queue's doubled DialEnd CANCEL, collapsed)."""
    out: dict[str, list[str]] = {}
    for _, message in events:
        name = message.get("Event")
        if linkedid not in (message.get("Linkedid"), message.get("DestLinkedid")):
            continue
        if name not in handled:
            continue
        channel = message.get("Channel") or message.get("DestChannel") or ""
        label = f"VarSet:{message.get('Variable')}" if name == "VarSet" else str(name)
        if name in ("DialBegin", "DialState", "DialEnd") and message.get("DestChannel"):
            channel = message["DestChannel"]
        steps = out.setdefault(role(channel), [])
        if not steps or steps[-1] != label:
            steps.append(label)
    return out
