"""Comparing what the PBX simulator sends with a capture from a real Asterisk 22.10.1.

`project()` reduces a stream of AMI messages to what the call tracker uses, per channel:
channel names lose their instance number (`Local/1002@agents-00000001;1` →
`Local/1002@agents;1`), uniqueids become `<that channel's key>`, and each channel keeps the
ordered list of its own events among the tracked ones (an event that names two channels,
DialBegin or AgentConnect, is in both lists). OriginateResponse lands anywhere (fixtures
README), so it is kept apart, unordered. Times are compared within a tolerance.

`conformance_diff()` says where two projections differ, as a readable unified diff.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from telephony.contract import TRACKED_VARIABLES

# What the tracker (and the tests of this module) follow: events and their telling fields.
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "Newchannel": ("ChannelStateDesc",),
    "Newstate": ("ChannelStateDesc",),
    "DialBegin": ("DialString",),
    "DialState": ("DialStatus",),
    "DialEnd": ("DialStatus",),
    "QueueCallerJoin": ("ChannelStateDesc", "Queue", "Position", "Count"),
    "QueueCallerLeave": ("ChannelStateDesc", "Queue", "Position", "Count"),
    "QueueCallerAbandon": ("Queue", "Position", "OriginalPosition", "HoldTime"),
    "AgentCalled": ("Queue", "Interface", "MemberName"),
    "AgentConnect": ("Queue", "Interface", "HoldTime", "RingTime"),
    "AgentComplete": ("Queue", "Interface", "HoldTime", "TalkTime", "Reason"),
    "AgentRingNoAnswer": ("Queue", "Interface", "RingTime"),
    "BridgeEnter": ("ChannelStateDesc", "BridgeNumChannels"),
    "BridgeLeave": ("ChannelStateDesc", "BridgeNumChannels"),
    "MixMonitorStart": ("ChannelStateDesc",),
    "HangupRequest": ("ChannelStateDesc", "Cause"),
    "SoftHangupRequest": ("ChannelStateDesc", "Cause"),
    "Hangup": ("ChannelStateDesc", "Cause"),
    "VarSet": ("ChannelStateDesc", "Variable", "Value"),
    "Shutdown": ("Shutdown", "Restart"),
}
VARIABLES = TRACKED_VARIABLES | {"QUEUESTATUS", "DIALSTATUS"}
ORIGINATE_FIELDS = ("Response", "Reason", "Channel", "Uniqueid", "Context", "Exten", "CallerIDNum")
# Seconds measured by the PBX: equal within one second (RingTime of AgentRingNoAnswer is ms).
TOLERANCE = {
    ("QueueCallerAbandon", "HoldTime"): 1,
    ("AgentConnect", "HoldTime"): 1,
    ("AgentConnect", "RingTime"): 1,
    ("AgentComplete", "HoldTime"): 1,
    ("AgentComplete", "TalkTime"): 1,
    ("AgentRingNoAnswer", "RingTime"): 1000,
}
_INSTANCE = re.compile(r"-[0-9a-f]{8}(;[12])?$")
SYSTEM = "(system)"


def channel_key(name: str) -> str:
    """`Local/1002@agents-00000001;1` → `Local/1002@agents;1`; dial strings stay as they are."""
    return _INSTANCE.sub(lambda match: match.group(1) or "", name)


Message = Mapping[str, str]


@dataclass(frozen=True)
class Step:
    """One projected event: its name, its telling fields, the other channel it names."""

    event: str
    fields: tuple[tuple[str, str], ...]
    peer: str = ""

    def text(self) -> str:
        fields = " ".join(f"{name}={value}" for name, value in self.fields)
        return f"{self.event} {fields}" + (f" <-> {self.peer}" if self.peer else "")


@dataclass
class Projection:
    channels: dict[str, list[Step]] = field(default_factory=dict)
    originates: list[Step] = field(default_factory=list)
    cdrs: list[Step] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # uniqueid → channel key
    names: dict[str, str] = field(default_factory=dict)  # channel key → full channel name

    def key_of(self, name: str, uniqueid: str) -> str:
        """The channel's key: its name without instance, numbered when the name comes back."""
        if uniqueid not in self.keys:
            base = channel_key(name)
            taken = sum(1 for key in self.keys.values() if key.split("#")[0] == base)
            key = base if taken == 0 else f"{base}#{taken + 1}"
            self.keys[uniqueid] = key
            self.names[key] = name
        return self.keys[uniqueid]

    def normalise(self, value: str) -> str:
        """Uniqueids inside values (recording paths, BRIDGEPEER...) become `<key>`."""
        for uniqueid, key in self.keys.items():
            if uniqueid in value:
                value = value.replace(uniqueid, f"<{key}>")
        return value

    def count(self) -> int:
        return sum(len(steps) for steps in self.channels.values())


def project(messages: Iterable[Message]) -> Projection:
    """The tracker's view of a stream, per channel."""
    projection = Projection()
    for message in messages:
        name = message.get("Event", "")
        if name == "OriginateResponse":
            projection.originates.append(_originate_step(projection, message))
            continue
        if name == "Cdr":
            projection.cdrs.append(_cdr_step(projection, message))
            continue
        if name not in EVENT_FIELDS:
            continue
        if name == "VarSet" and message.get("Variable") not in VARIABLES:
            continue
        own = _channel(projection, message, "")
        dest = _channel(projection, message, "Dest")
        values = tuple(
            (key, projection.normalise(message[key]))
            for key in EVENT_FIELDS[name]
            if key in message
        )
        if own is None and dest is None:
            projection.channels.setdefault(SYSTEM, []).append(Step(name, values))
        for key, peer in ((own, dest), (dest, own)):
            if key is not None:
                step_values = values if key == own else _without_state(values)
                projection.channels.setdefault(key, []).append(Step(name, step_values, peer or ""))
    return projection


def _without_state(values: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((key, value) for key, value in values if key != "ChannelStateDesc")


def _channel(projection: Projection, message: Message, prefix: str) -> str | None:
    name, uniqueid = message.get(f"{prefix}Channel"), message.get(f"{prefix}Uniqueid")
    if not name or not uniqueid:
        return None
    return projection.key_of(name, uniqueid)


def _originate_step(projection: Projection, message: Message) -> Step:
    values = []
    for key in ORIGINATE_FIELDS:
        value = message.get(key, "")
        if key == "Channel":
            value = channel_key(value)
        elif key == "Uniqueid":
            value = f"<{projection.keys[value]}>" if value in projection.keys else value
        values.append((key, value))
    return Step("OriginateResponse", tuple(values))


def _cdr_step(projection: Projection, message: Message) -> Step:
    """Who called whom, the last application and how it ended; answered or not."""
    keys = {name: key for key, name in projection.names.items()}
    return Step(
        "Cdr",
        (
            ("Channel", keys.get(message.get("Channel", ""), message.get("Channel", ""))),
            ("Destination", message.get("Destination", "")),
            ("DestinationContext", message.get("DestinationContext", "")),
            (
                "DestinationChannel",
                keys.get(
                    message.get("DestinationChannel", ""), message.get("DestinationChannel", "")
                ),
            ),
            ("LastApplication", message.get("LastApplication", "")),
            ("LastData", projection.normalise(message.get("LastData", ""))),
            ("Disposition", message.get("Disposition", "")),
            ("Answered", "yes" if message.get("AnswerTime") else "no"),
        ),
    )


def _within(event: str, key: str, ours: str, theirs: str) -> bool:
    limit = TOLERANCE.get((event, key))
    if limit is None or not (ours.isdigit() and theirs.isdigit()):
        return ours == theirs
    return abs(int(ours) - int(theirs)) <= limit


def _aligned(ours: list[Step], theirs: list[Step]) -> list[Step]:
    """Our steps, with the timed fields replaced by the capture's where they agree within the
    tolerance (so that the diff shows only real differences)."""
    out = []
    for index, step in enumerate(ours):
        other = theirs[index] if index < len(theirs) else None
        if other is None or other.event != step.event or other.peer != step.peer:
            out.append(step)
            continue
        theirs_by_key = dict(other.fields)
        fields = tuple(
            (key, theirs_by_key[key])
            if key in theirs_by_key and _within(step.event, key, value, theirs_by_key[key])
            else (key, value)
            for key, value in step.fields
        )
        out.append(Step(step.event, fields, step.peer))
    return out


def conformance_diff(ours: Projection, theirs: Projection) -> str:
    """'' when the simulator's stream matches the capture's, else a unified diff per channel."""
    parts: list[str] = []
    for key in sorted(set(ours.channels) | set(theirs.channels)):
        mine, real = ours.channels.get(key, []), theirs.channels.get(key, [])
        mine = _aligned(mine, real)
        if mine != real:
            parts.extend(
                difflib.unified_diff(
                    [s.text() for s in real],
                    [s.text() for s in mine],
                    f"capture {key}",
                    f"simulator {key}",
                    lineterm="",
                )
            )
    for label, mine, real in (
        ("OriginateResponse", ours.originates, theirs.originates),
        ("Cdr", ours.cdrs, theirs.cdrs),
    ):  # both land anywhere: compared as sets
        if sorted(s.text() for s in mine) != sorted(s.text() for s in real):
            parts.extend(
                difflib.unified_diff(
                    sorted(s.text() for s in real),
                    sorted(s.text() for s in mine),
                    f"capture {label}",
                    f"simulator {label}",
                    lineterm="",
                )
            )
    return "\n".join(parts)


def responses(messages: Iterable[Message]) -> list[tuple[tuple[str, str], ...]]:
    """The answers to the actions, in order, without the values that vary (Ping's time)."""
    return [
        tuple((key, value) for key, value in message.items() if key != "Timestamp")
        for message in messages
        if "Response" in message and "Event" not in message
    ]


def list_items(messages: Iterable[Message]) -> list[tuple[str, ...]]:
    """The events answering list actions (QueueStatus, CoreShowChannels, ...): which, for
    which channel, and how many the list says it had; their statistics are left out (a lab's
    queue remembers earlier calls)."""
    return [
        (
            message["ActionID"],
            message["Event"],
            channel_key(message.get("Channel", "")),
            message.get("ListItems", ""),
        )
        for message in messages
        if "Event" in message and "ActionID" in message and message["Event"] != "OriginateResponse"
    ]


def parse_stream(data: bytes) -> list[dict[str, str]]:
    """The messages of an AMI byte stream (banner dropped), each as its headers in order."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.split(b"\r\n", 1)[1] if b"\r\n" in data else b""
    messages = []
    for block in data.split(b"\r\n\r\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(": ")
            if colon:
                fields.setdefault(name, value)
            elif line.endswith(":"):
                fields.setdefault(line[:-1], "")
        messages.append(fields)
    return messages
