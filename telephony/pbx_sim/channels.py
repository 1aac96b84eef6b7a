"""Channels, bridges, Asterisk-style names and uniqueids, and the events that describe them.

Field names and their order follow what Asterisk 22 sent in the captures under
`shared/fixtures/ami/`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from telephony.ami.vocabulary import CdrDisposition, ChannelState, HangupCause
from telephony.pbx_sim.clock import SimClock
from telephony.pbx_sim.wire import Fields

if TYPE_CHECKING:
    from telephony.pbx_sim.scenario import Call

# ChannelStateDesc as ast_state2str() words each state.
STATE_DESC = {
    ChannelState.DOWN: "Down",
    ChannelState.RSRVD: "Rsrvd",
    ChannelState.OFFHOOK: "OffHook",
    ChannelState.DIALING: "Dialing",
    ChannelState.RING: "Ring",
    ChannelState.RINGING: "Ringing",
    ChannelState.UP: "Up",
    ChannelState.BUSY: "Busy",
}

# Hangup's Cause-txt as ast_cause2str() words the causes the simulator gives.
CAUSE_TEXT: dict[int, str] = {
    HangupCause.NOTDEFINED: "Unknown",
    HangupCause.NORMAL_CLEARING: "Normal Clearing",
    HangupCause.USER_BUSY: "User busy",
    HangupCause.NO_ANSWER: "User alerting, no answer",
    HangupCause.SUBSCRIBER_ABSENT: "Subscriber absent",
    HangupCause.ANSWERED_ELSEWHERE: "Answered elsewhere",
    HangupCause.NORMAL_CIRCUIT_CONGESTION: "Circuit/channel congestion",
}

PRIVILEGE = {
    "Newchannel": "call,all",
    "Newstate": "call,all",
    "NewCallerid": "call,all",
    "NewConnectedLine": "call,all",
    "Newexten": "dialplan,all",
    "VarSet": "dialplan,all",
    "DialBegin": "call,all",
    "DialState": "call,all",
    "DialEnd": "call,all",
    "HangupRequest": "call,all",
    "SoftHangupRequest": "call,all",
    "Hangup": "call,all",
    "MixMonitorStart": "call,all",
    "LocalBridge": "call,all",
    "Shutdown": "system,all",
    "MusicOnHoldStart": "call,all",
    "MusicOnHoldStop": "call,all",
    "Unhold": "call,all",
    "BlindTransfer": "call,all",
    "ConfbridgeStart": "call,all",
    "ConfbridgeJoin": "call,all",
    "ConfbridgeLeave": "call,all",
    "ConfbridgeEnd": "call,all",
    "BridgeCreate": "call,all",
    "BridgeEnter": "call,all",
    "BridgeLeave": "call,all",
    "BridgeDestroy": "call,all",
    "DeviceStateChange": "call,all",
    "OriginateResponse": "call,all",
    "ChanSpyStart": "call,all",
    "ChanSpyStop": "call,all",
    "Cdr": "cdr,all",
    "QueueCallerJoin": "agent,all",
    "QueueCallerLeave": "agent,all",
    "QueueCallerAbandon": "agent,all",
    "AgentCalled": "agent,all",
    "AgentConnect": "agent,all",
    "AgentComplete": "agent,all",
    "AgentRingNoAnswer": "agent,all",
    "QueueMemberStatus": "agent,all",
    "QueueMemberAdded": "agent,all",
    "QueueMemberRemoved": "agent,all",
    "QueueMemberPause": "agent,all",
    "FullyBooted": "system,all",
    "SuccessfulAuth": "security,all",
    "RequestBadFormat": "security,all",
}


def event(name: str, *parts: Fields) -> Fields:
    """An event's headers: `Event`, its `Privilege`, then the given parts in order."""
    fields: Fields = [("Event", name), ("Privilege", PRIVILEGE[name])]
    for part in parts:
        fields.extend(part)
    return fields


@dataclass(eq=False)
class Bridge:
    """A basic two-party bridge (Dial, Queue), or a ConfBridge room's mixing bridge
    (ast_bridge_base_new: type `base`, technology `softmix`, created by ConfBridge, named
    after the conference)."""

    uniqueid: str = field(default_factory=lambda: str(uuid.uuid4()))
    members: list[Channel] = field(default_factory=list)
    kind: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"

    def fields(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", self.kind),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", self.creator),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(len(self.members))),
            ("BridgeVideoSourceMode", "none"),
        ]


class FarEnd(StrEnum):
    """What the far end of an outgoing channel has said: a phone's or the trunk's SIP answer,
    or the other half of a Local channel running its dialplan."""

    RINGING = "ringing"
    ANSWERED = "answered"
    BUSY = "busy"
    CONGESTION = "congestion"
    UNAVAILABLE = "unavailable"


FAR_FAILURES = frozenset({FarEnd.BUSY, FarEnd.CONGESTION, FarEnd.UNAVAILABLE})


@dataclass(eq=False)
class Channel:
    """One live channel and what a snapshot of it shows."""

    name: str
    uniqueid: str
    linkedid: str
    endpoint: str  # PJSIP endpoint or dialled resource: "1001", "trunk", "1001@agents"
    context: str
    exten: str
    created: float
    tech: str = "PJSIP"
    state: ChannelState = ChannelState.DOWN
    priority: int = 1
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    language: str = "en"
    account_code: str = ""
    application: str = ""
    app_data: str = ""
    answered: float | None = None
    bridge: Bridge | None = None
    variables: dict[str, str] = field(default_factory=dict)
    call: Call | None = None  # the scenario this channel belongs to (shared by its linkedid)
    wake: asyncio.Event | None = None  # set on any change, for a channel without a call
    # Local channels come in pairs: `;1` faces the PBX that requested it, `;2` runs the
    # dialplan at exten@context; `twin` is the other half.
    twin: Channel | None = None
    half: int = 0  # 1 or 2 for a Local channel's halves
    dialed: str = ""  # what an outgoing channel was requested with: "13900139000@trunk"
    far: FarEnd | None = None  # what the far end of an outgoing channel answered
    rang: bool = False  # its far end said it rings (answering at once says nothing of it)
    far_cause: int | None = None  # the hangup cause the far end gave with a failure
    in_dialplan: bool = False  # runs the dialplan: its end is a SoftHangupRequest (APPUNLOAD)
    spying: bool = False  # runs ChanSpy (AST_FLAG_SPYING): no other ChanSpy spies on it
    # ast_channel_hangupcause as Asterisk has recorded it so far (0: none): app_dial's answer
    # and leaving a bridge make it Normal Clearing; a PJSIP BYE reports (and ends with) it.
    cause: int = HangupCause.NOTDEFINED
    # (context, exten, priority) a blind transfer or an AMI Redirect sends it to: it leaves its
    # bridge (or the application it runs) and goes on there.
    after_bridge: tuple[str, str, int] | None = None
    blind_transferred: bool = False  # that goto comes from a blind transfer, not a Redirect
    # Called once its Hangup has been sent (app_queue's AgentComplete of a call that left its
    # Queue() by a Redirect waits for a hang-up, as its stasis subscription does).
    on_hangup: list[Callable[[], None]] = field(default_factory=list)
    muted: set[str] = field(default_factory=set)  # MUTEAUDIO directions: "in", "out"
    # Set when something outside the running application (the far end, an AMI Hangup, a
    # shutdown) ends the channel; `hangup_cause` is then the cause its Hangup will give.
    hangup_cause: int | None = None
    own_cause: int | None = None  # set by its dialplan (Hangup(17), Busy()): wins at Hangup
    hangup_announced: bool = False  # its HangupRequest/SoftHangupRequest has been sent
    appunload_announced: bool = False  # its dialplan's end (SoftHangupRequest 16) was sent
    destroyed: bool = False  # its Hangup event has been sent
    cdrs: list[CdrSpec] = field(default_factory=list)  # written when the dialplan ends
    # The caller ID and connected line its last published snapshot showed: the manager sends
    # NewCallerid / NewConnectedLine only when a new snapshot shows them changed.
    shown_caller: tuple[str, str] = ("<unknown>", "<unknown>")
    shown_connected: tuple[str, str] = ("<unknown>", "<unknown>")

    def snapshot(self, prefix: str = "") -> Fields:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.caller_num),
            (f"{prefix}CallerIDName", self.caller_name),
            (f"{prefix}ConnectedLineNum", self.connected_num),
            (f"{prefix}ConnectedLineName", self.connected_name),
            (f"{prefix}Language", self.language),
            (f"{prefix}AccountCode", self.account_code),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]

    @property
    def hung_up(self) -> bool:
        return self.hangup_cause is not None or self.destroyed

    @property
    def device(self) -> str:
        """The device whose state this channel counts toward: `PJSIP/1001`, `Local/1001@agents`."""
        return f"{self.tech}/{self.endpoint}"

    def request_hangup(self, cause: int) -> None:
        """Mark the channel as ended from outside its application, and wake its call."""
        if self.hangup_cause is None:
            self.hangup_cause = cause
            self.notify()

    def notify(self) -> None:
        """Something happened to this channel: let its call re-run its checks."""
        if self.call is not None:
            self.call.notify()
        elif self.wake is not None:
            self.wake.set()


@dataclass(frozen=True)
class CdrSpec:
    """A Cdr the dialplan's end will write: the other party, and how that attempt ended."""

    dest: Channel | None
    disposition: CdrDisposition
    application: str
    data: str


class ChannelRegistry:
    """Live channels by name, and Asterisk's counters for names and uniqueids."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.by_name: dict[str, Channel] = {}
        self._sequence = 0
        self._suffix = 0
        self._last_epoch = 0

    def new_uniqueid(self) -> str:
        """`<epoch>.<n>`: creation second and a counter that runs from boot."""
        epoch = int(self.clock.now())
        self._last_epoch = max(self._last_epoch, epoch)
        uniqueid = f"{epoch}.{self._sequence}"
        self._sequence += 1
        return uniqueid

    def new_name(self, tech: str, resource: str) -> str:
        """`PJSIP/1001-0000000b`: the endpoint and a hex counter shared by all channels; a
        Local channel's name is its first half's (`;1`), see `new_pair_names`."""
        name = f"{tech}/{resource}-{self._suffix:08x}"
        self._suffix += 1
        return name + (";1" if tech == "Local" else "")

    def new_pair_names(self, resource: str) -> tuple[str, str]:
        """`Local/1002@agents-00000001;1` and `...;2`: one counter value for both halves."""
        base = f"Local/{resource}-{self._suffix:08x}"
        self._suffix += 1
        return base + ";1", base + ";2"

    def add(self, channel: Channel) -> None:
        self.by_name[channel.name] = channel

    def discard(self, channel: Channel) -> None:
        self.by_name.pop(channel.name, None)

    def get(self, name: str) -> Channel | None:
        return self.by_name.get(name)

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self.by_name.values()))

    def reset(self) -> None:
        """Forget every channel and restart the counters, with a later uniqueid epoch."""
        self.by_name.clear()
        self._sequence = 0
        self._suffix = 0
        self.clock.move_past(self._last_epoch)


def caller_id_text(name: str, number: str) -> str:
    """`"name" <number>` as the Cdr's CallerID shows it."""
    if number in ("", "<unknown>"):
        return f'"{name}" <>' if name not in ("", "<unknown>") else ""
    return f'"{name}" <{number}>' if name not in ("", "<unknown>") else f"<{number}>"


def parse_caller_id(text: str) -> tuple[str, str]:
    """(name, number) from an Originate `CallerID`: `"Agent 1001" <1001>` or `1001`."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, number = text[:-1].rpartition("<")
        return name.strip().strip('"'), number.strip()
    if text.isdigit() or text.startswith("+"):
        return "", text
    return text.strip('"'), ""
