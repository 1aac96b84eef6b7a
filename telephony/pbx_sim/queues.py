"""Call queues (app_queue): members, waiting callers, statistics, and their AMI shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from telephony.ami.vocabulary import DeviceState, QueueMembership
from telephony.pbx_sim.channels import Channel, event
from telephony.pbx_sim.wire import Fields, with_action_id


class MemberChange(StrEnum):
    """How QueueAdd / QueueRemove went (app_queue's RES_* results)."""

    OKAY = "ok"
    EXISTS = "exists"  # QueueAdd: already a member
    NOT_THERE = "notthere"  # QueueRemove: not a member
    NOT_DYNAMIC = "notdynamic"  # QueueRemove: a member from queues.conf stays
    NO_SUCH_QUEUE = "nosuchqueue"


# A member app_queue would ring (ringinuse=no): its device is idle, or says nothing.
IDLE = frozenset({DeviceState.NOT_INUSE, DeviceState.UNKNOWN})


@dataclass(eq=False)
class QueueMember:
    interface: str
    name: str
    state_interface: str
    dynamic: bool
    login_time: int
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    in_call: bool = False
    status: DeviceState = DeviceState.NOT_INUSE  # its state interface's
    paused: bool = False
    paused_reason: str = ""
    ringinuse: bool = False
    wrapuptime: int = 0
    wrapup_until: float = 0.0  # simulated time before which wrap-up keeps the member idle

    def event(self, name: str, queue: str) -> Fields:
        """QueueMemberStatus / Added / Removed / Pause (all share these fields)."""
        return event(
            name,
            [
                ("Queue", queue),
                ("MemberName", self.name),
                ("Interface", self.interface),
                *self._state(),
                ("Ringinuse", str(int(self.ringinuse))),
                ("Wrapuptime", str(self.wrapuptime)),
            ],
        )

    def _state(self) -> Fields:
        """The member's state, in the order both its events and QueueStatus give it."""
        return [
            ("StateInterface", self.state_interface),
            ("Membership", self.membership),
            ("Penalty", str(self.penalty)),
            ("CallsTaken", str(self.calls_taken)),
            ("LastCall", str(self.last_call)),
            ("LastPause", str(self.last_pause)),
            ("LoginTime", str(self.login_time)),
            ("InCall", str(int(self.in_call))),
            ("Status", str(self.status)),
            ("Paused", str(int(self.paused))),
            ("PausedReason", self.paused_reason),
        ]

    def list_item(self, queue: str, action_id: str) -> Fields:
        """The QueueMember event of a QueueStatus answer."""
        return [
            ("Event", "QueueMember"),
            ("Queue", queue),
            ("Name", self.name),
            ("Location", self.interface),
            *self._state(),
            ("Wrapuptime", str(self.wrapuptime)),
            *with_action_id(action_id),
        ]

    @property
    def membership(self) -> QueueMembership:
        return QueueMembership.DYNAMIC if self.dynamic else QueueMembership.STATIC

    @property
    def logged_in(self) -> bool:
        return self.status not in (DeviceState.UNAVAILABLE, DeviceState.INVALID)

    @property
    def available(self) -> bool:
        """Counted as Available by QueueSummary: idle device and not paused."""
        return self.status in IDLE and not self.paused


@dataclass(eq=False)
class QueueEntry:
    """A caller waiting in a queue."""

    channel: Channel
    joined: float
    original_position: int


@dataclass(eq=False)
class CallQueue:
    name: str
    wrapuptime: int = 0
    strategy: str = "ringall"
    max_callers: int = 0
    weight: int = 0
    servicelevel: int = 0
    members: dict[str, QueueMember] = field(default_factory=dict)
    entries: list[QueueEntry] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0

    def join(self, channel: Channel, now: float) -> QueueEntry:
        entry = QueueEntry(channel, now, len(self.entries) + 1)
        self.entries.append(entry)
        return entry

    def position(self, entry: QueueEntry) -> int:
        return self.entries.index(entry) + 1 if entry in self.entries else 0

    def leave(self, entry: QueueEntry) -> int:
        """Remove a caller; returns the position it had."""
        position = self.position(entry)
        if entry in self.entries:
            self.entries.remove(entry)
        return position

    def record_holdtime(self, seconds: int) -> None:
        self.holdtime = _average(self.holdtime, seconds)

    def record_completed(self, talk_seconds: int) -> None:
        self.completed += 1
        self.talktime = _average(self.talktime, talk_seconds)

    def params_item(self, action_id: str) -> Fields:
        """The QueueParams event of a QueueStatus answer."""
        return [
            ("Event", "QueueParams"),
            ("Queue", self.name),
            ("Max", str(self.max_callers)),
            ("Strategy", self.strategy),
            ("Calls", str(len(self.entries))),
            ("Holdtime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("Completed", str(self.completed)),
            ("Abandoned", str(self.abandoned)),
            ("ServiceLevel", str(self.servicelevel)),
            ("ServicelevelPerf", "0.0"),
            ("ServicelevelPerf2", "0.0"),
            ("Weight", str(self.weight)),
            *with_action_id(action_id),
        ]

    def entry_item(self, entry: QueueEntry, now: float, action_id: str) -> Fields:
        channel = entry.channel
        return [
            ("Event", "QueueEntry"),
            ("Queue", self.name),
            ("Position", str(self.position(entry))),
            ("Channel", channel.name),
            ("Uniqueid", channel.uniqueid),
            ("CallerIDNum", channel.caller_num),
            ("CallerIDName", channel.caller_name),
            ("ConnectedLineNum", channel.connected_num),
            ("ConnectedLineName", channel.connected_name),
            ("Wait", str(int(now - entry.joined))),
            ("Priority", "0"),
            *with_action_id(action_id),
        ]

    def summary_item(self, now: float, action_id: str) -> Fields:
        longest = max((int(now - entry.joined) for entry in self.entries), default=0)
        return [
            ("Event", "QueueSummary"),
            ("Queue", self.name),
            ("LoggedIn", str(sum(member.logged_in for member in self.members.values()))),
            ("Available", str(sum(member.available for member in self.members.values()))),
            ("Callers", str(len(self.entries))),
            ("HoldTime", str(self.holdtime)),
            ("TalkTime", str(self.talktime)),
            ("LongestHoldTime", str(longest)),
            *with_action_id(action_id),
        ]


def _average(old: int, new: int) -> int:
    """app_queue's running average: the first sample, then weighted 3:1 toward the past."""
    return new if old == 0 else (old * 3 + new) // 4


def state_interface_of(interface: str) -> str:
    """`Local/1001@agents/n` → `Local/1001@agents`; PJSIP interfaces are their own."""
    if interface.startswith("Local/") and interface.endswith("/n"):
        return interface[:-2]
    return interface


def endpoint_of(interface: str) -> tuple[str, str]:
    """(tech, resource) of an interface: `PJSIP/1001` → (PJSIP, 1001)."""
    tech, _, resource = state_interface_of(interface).partition("/")
    return tech, resource


def extension_of(interface: str) -> str:
    """The agent's extension behind an interface (`PJSIP/1001`, `Local/1001@agents/n`)."""
    _, resource = endpoint_of(interface)
    return resource.split("@", 1)[0]
