"""What the PBX tells the rest of the system, in the business's terms: the call tracker's
events and the bridge's (its connection, the queue members). The one module that defines them;
the events stream carries each by its class name (`web/runtime/codec.py`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from crm.bus import Event
from crm.calls.models import CallOutcome, Direction, HungUpBy
from telephony.queues import QueueMember


class RingStopReason(StrEnum):
    """Why an agent's phone stopped ringing without that agent answering (the screen pop's
    `ring_stopped` message says it; the console words each)."""

    ANSWERED_ELSEWHERE = "answered_elsewhere"  # another agent took the call
    CALLER_HUNG_UP = "caller_hung_up"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"
    CONGESTION = "congestion"
    UNKNOWN = "unknown"  # the dial ended with a status that says none of these


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A snapshot of one call (all legs sharing an Asterisk linkedid), as stored in `calls`."""

    linkedid: str
    direction: Direction
    started_at: datetime
    uniqueid: str | None = None  # the customer's channel
    caller: str | None = None
    dialed: str | None = None
    customer_number: str | None = None  # the outside party as the PBX saw it
    queue: str | None = None
    agents_rung: tuple[str, ...] = ()
    agent: str | None = None  # interface that answered
    agents_connected: tuple[str, ...] = ()  # every agent the customer talked to, in order
    agent_extension: str | None = None
    outcome: CallOutcome | None = None  # None while the call is live
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    queued_at: datetime | None = None  # entered the queue (not stored: the wallboard's wait)
    wait_seconds: float | None = None
    ring_seconds: float | None = None
    talk_seconds: float | None = None
    hung_up_by: HungUpBy | None = None
    hangup_cause: int | None = None  # Q.850 (HangupCause), kept as a number: any may come
    recording: str | None = None
    recording_agent: str | None = None
    recording_customer: str | None = None
    attempt_id: int | None = None
    end_inferred: bool = False

    @property
    def live(self) -> bool:
        return self.ended_at is None

    def replay_json(self) -> dict[str, Any]:
        """The `callcentre ami replay` line: the fields a reader checks against the capture."""
        keys = (
            "linkedid",
            "direction",
            "caller",
            "dialed",
            "queue",
            "agents_rung",
            "agent",
            "outcome",
            "wait_seconds",
            "ring_seconds",
            "talk_seconds",
            "hung_up_by",
            "hangup_cause",
            "recording",
        )
        data = asdict(self)
        result = {key: data[key] for key in keys}
        result["agents_rung"] = list(self.agents_rung)
        result["recording_agent"] = self.recording_agent
        result["recording_customer"] = self.recording_customer
        result["agents_connected"] = list(self.agents_connected)
        result["end_inferred"] = self.end_inferred
        return result


@dataclass(frozen=True, slots=True)
class CallUpdated(Event):
    """The call's stored fields changed (started, answered, ended, corrected by a late event).
    Frequent, so it stays in the bridge's process: the events stream does not carry it."""

    crosses_processes: ClassVar[bool] = False
    record: CallRecord


@dataclass(frozen=True, slots=True)
class CallArrived(Event):
    """An inbound call came in and no phone rings yet: who is calling, told once per call so
    the caller's card can be read while the PBX is still answering and queueing it (with a
    greeting first, seconds before any agent's phone rings)."""

    linkedid: str
    caller: str
    at: datetime


@dataclass(frozen=True, slots=True)
class AgentRinging(Event):
    """An agent's phone starts ringing: the screen-pop trigger."""

    linkedid: str
    interface: str
    extension: str | None
    caller: str | None  # the outside party's number as the PBX gave it
    queue: str | None
    direction: Direction
    at: datetime
    attempt_id: int | None = None
    received_at: float | None = field(default=None, compare=False)  # monotonic, for latency


@dataclass(frozen=True, slots=True)
class RingStopped(Event):
    """An agent's phone stopped ringing without that agent answering."""

    linkedid: str
    interface: str
    extension: str | None
    reason: RingStopReason
    at: datetime


@dataclass(frozen=True, slots=True)
class CallAnswered(Event):
    linkedid: str
    interface: str
    extension: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallBridged(Event):
    linkedid: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RecordingStarted(Event):
    linkedid: str
    recording: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class CallEnded(Event):
    record: CallRecord


@dataclass(frozen=True, slots=True)
class QueueMemberChanged(Event):
    member: QueueMember


@dataclass(frozen=True, slots=True)
class QueueMembersResynced(Event):
    """The queue members were rebuilt from QueueStatus (after a reconnect, or periodically)."""

    members: tuple[QueueMember, ...]


@dataclass(frozen=True, slots=True)
class PbxConnection(Event):
    """Published when the PBX connection comes up or goes down."""

    connected: bool
    at: datetime


DomainEvent = (
    CallUpdated
    | CallArrived
    | AgentRinging
    | RingStopped
    | CallAnswered
    | CallBridged
    | RecordingStarted
    | CallEnded
)
