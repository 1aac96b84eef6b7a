"""The call tracker: folds AMI events, grouped by Linkedid, into calls and domain events.

Pure: events in (each with the instant it arrived), `CallRecord`s and domain events out; no
I/O, no clock. Every handler is idempotent and tolerant of Asterisk's quirks (duplicate
DialEnd, Cdr before Hangup, OriginateResponse anywhere, `<unknown>` uniqueids, VarSet floods).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from crm.calls.models import CallOutcome, Direction, HungUpBy
from telephony import contract
from telephony.ami.vocabulary import (
    AgentCompleteReason,
    DialStatus,
    HangupCause,
    OriginateReason,
    QueueResult,
    SoftHangup,
    TransferResult,
)
from telephony.channels import AgentDirectory, dialed_number, interface_of, known, local_pair_of
from telephony.contract import CallType
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallArrived,
    CallBridged,
    CallEnded,
    CallRecord,
    CallUpdated,
    DomainEvent,
    RecordingStarted,
    RingStopped,
    RingStopReason,
)
from telephony.supervision import is_spy_event, is_spy_leg

log = logging.getLogger(__name__)


class Party(StrEnum):
    """Whose leg a channel is."""

    CUSTOMER = "customer"  # the outside party's
    AGENT = "agent"
    # The legs the agent console's call controls add to a call (a consulted colleague, a
    # conference's third party): the Local channel they are originated as, and an outside
    # number it dials.
    JOINED = "joined"
    OUTSIDE = "outside"


CONFBRIDGE = "ConfBridge"  # BridgeCreator of a ConfBridge room (the call controls' rooms)
# Every reason Asterisk gives is mapped; one this version does not know counts as FAILURE.
ORIGINATE_OUTCOMES = {
    OriginateReason.FAILURE: CallOutcome.FAILED,
    OriginateReason.HANGUP: CallOutcome.FAILED,
    OriginateReason.RINGING: CallOutcome.NO_ANSWER,
    OriginateReason.ANSWER: CallOutcome.ANSWERED,
    OriginateReason.BUSY: CallOutcome.BUSY,
    OriginateReason.CONGESTION: CallOutcome.CONGESTION,
}
DIAL_OUTCOMES = {
    DialStatus.ANSWER: CallOutcome.ANSWERED,
    DialStatus.BUSY: CallOutcome.BUSY,
    DialStatus.NOANSWER: CallOutcome.NO_ANSWER,
    DialStatus.CANCEL: CallOutcome.NO_ANSWER,
    DialStatus.CONGESTION: CallOutcome.CONGESTION,
    DialStatus.CHANUNAVAIL: CallOutcome.FAILED,
}  # any other status: failed
# Q.850 causes our dialplan hangs up with after a failed Dial (asterisk-conf `dialstatus-*`):
# a cancelled outside leg reports cause 0, its dial status says why it was not reached.
DIAL_STATUS_CAUSES = {
    DialStatus.BUSY: HangupCause.USER_BUSY,
    DialStatus.NOANSWER: HangupCause.NO_ANSWER,
    DialStatus.CONGESTION: HangupCause.NORMAL_CIRCUIT_CONGESTION,
    DialStatus.CHANUNAVAIL: HangupCause.NORMAL_CIRCUIT_CONGESTION,
}
ORIGINATE_REASON_CAUSES = {
    OriginateReason.RINGING: HangupCause.NO_ANSWER,
    OriginateReason.BUSY: HangupCause.USER_BUSY,
    OriginateReason.CONGESTION: HangupCause.NORMAL_CIRCUIT_CONGESTION,
}
# QUEUESTATUS after Queue() returned without an agent: nobody could take calls (joinempty,
# leavewhenempty) or the queue was full: the PBX refused the caller, not an abandon.
NO_AGENT_QUEUE_RESULTS = frozenset(
    {
        QueueResult.JOINEMPTY,
        QueueResult.LEAVEEMPTY,
        QueueResult.JOINUNAVAIL,
        QueueResult.LEAVEUNAVAIL,
        QueueResult.FULL,
    }
)
RING_STOP_REASONS = {
    DialStatus.NOANSWER: RingStopReason.NO_ANSWER,
    DialStatus.BUSY: RingStopReason.BUSY,
    DialStatus.CHANUNAVAIL: RingStopReason.UNAVAILABLE,
    DialStatus.CONGESTION: RingStopReason.CONGESTION,
}  # CANCEL: answered elsewhere or the caller hung up; any other: unknown
_DURATION_RE = re.compile(r"^(\d+):(\d{2}):(\d{2})$")


def _text(value: Any) -> str | None:
    """A header's value; a header repeated by a broken peer counts once."""
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    text = _text(value)
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _integer(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _originate_reason(value: Any) -> OriginateReason | None:
    """OriginateResponse's Reason; one this version does not know is no answer: FAILURE."""
    number = _integer(value)
    if number is None:
        return None
    try:
        return OriginateReason(number)
    except ValueError:
        return OriginateReason.FAILURE


def _dial_status(value: Any) -> DialStatus | None:
    try:
        return DialStatus((_text(value) or "").upper())
    except ValueError:
        return None


def _complete_reason(value: Any) -> AgentCompleteReason | None:
    try:
        return AgentCompleteReason(_text(value) or "")
    except ValueError:
        return None


def _call_type(value: str) -> CallType | None:
    """CALL_TYPE as our dialplan sets it; another word says nothing about the call."""
    try:
        return CallType(value)
    except ValueError:
        return None


def _queue_result(value: str) -> QueueResult:
    """QUEUESTATUS; a word this version does not know is app_queue's own UNKNOWN."""
    try:
        return QueueResult(value)
    except ValueError:
        return QueueResult.UNKNOWN


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    """Whole seconds between two instants, as Asterisk reports its own durations."""
    if start is None or end is None:
        return None
    return float(max(0, round((end - start).total_seconds())))


@dataclass(frozen=True, slots=True)
class PartyLeg:
    """One live channel of the agent's side of a call (an agent, an added party)."""

    channel: str
    role: Party  # AGENT, JOINED (a Local channel the call controls originated) or OUTSIDE
    extension: str | None  # an agent's
    local: bool  # a Local channel (a queue member's, an added leg's)
    with_customer: bool  # talks with the customer now (through Local channels too)
    beside_customer: bool  # in the customer's own bridge
    in_room: bool  # in the call's ConfBridge room
    bridged: bool  # in a bridge at all (an added leg not yet answered is not)
    joined: bool  # added by the call controls (a consult, a conference's third party)
    first_half: bool  # not a Local channel's `;2`: the half the PBX faces
    reaches: str | None = None  # an added Local leg: the extension of the agent it reached


@dataclass(frozen=True, slots=True)
class CallParties:
    """Who is on a live call now, and where: what the call controls act on."""

    linkedid: str
    answered: bool
    customer: str | None  # the customer's live channel
    customer_bridged: bool
    customer_in_room: bool
    on_hold: bool
    agent_extension: str | None  # the agent on the call now
    legs: tuple[PartyLeg, ...]


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    name: str
    pair: str
    hung_up: bool = False
    # Asterisk said so (a Hangup event), not inferred from a resync: such a channel never
    # lives again, whatever an older list of live channels says.
    hangup_seen: bool = False
    cause: int | None = None  # Q.850, as Hangup said it: any number may come
    bridge: str | None = None  # the bridge it is in now
    joined: bool = False  # a leg the call controls originated into the call (expect_joining)

    def stated_cause(self) -> int | None:
        """The hangup cause, unless Asterisk said it had none (NOTDEFINED)."""
        return None if self.cause == HangupCause.NOTDEFINED else self.cause


@dataclass(slots=True)
class _Call:
    linkedid: str
    started_at: datetime
    channels: dict[str, _Channel] = field(default_factory=dict)
    roles: dict[str, Party] = field(default_factory=dict)  # Local pair key → its party
    caller: str | None = None
    arrival_told: bool = False  # CallArrived was published
    call_type: CallType | None = None
    customer_number: str | None = None
    attempt_id: int | None = None
    originated: bool = False
    originate_reason: OriginateReason | None = None
    customer_uid: str | None = None
    dialed: str | None = None
    queue: str | None = None
    joined_queue: bool = False
    queued_at: datetime | None = None
    left_queue_at: datetime | None = None
    abandoned: bool = False
    queue_status: QueueResult | None = None  # QUEUESTATUS once Queue() returned
    connected: bool = False
    agents_rung: list[str] = field(default_factory=list)
    ringing: dict[str, str] = field(default_factory=dict)  # agent channel uniqueid → interface
    rang_at: dict[str, datetime] = field(default_factory=dict)  # agent channel → when it rang
    agent: str | None = None  # the interface that answered the call
    agent_pair: str | None = None  # the agent on the call now (None between a transfer's legs)
    agents_connected: list[str] = field(default_factory=list)  # every agent, in order
    transferring: bool = False  # an agent handed the call on; the next answer continues it
    cut_by_pbx: bool = False  # the conversation ended with Asterisk stopping
    customer_dial_status: DialStatus | None = None
    customer_dialed_at: datetime | None = None  # an outside number started ringing
    customer_ring_ended_at: datetime | None = None
    customer_answered_at: datetime | None = None  # the outside party picked up
    agent_dial_status: DialStatus | None = None
    agent_answered_at: datetime | None = None  # an agent's phone picked up
    answered_at: datetime | None = None  # customer and agent connected: the call is answered
    bridged_at: datetime | None = None
    talk_ended_at: datetime | None = None  # the first hangup after the bridge
    bridges: dict[str, set[str]] = field(default_factory=dict)
    rooms: set[str] = field(default_factory=set)  # bridges that are ConfBridge rooms
    on_hold: bool = False  # the customer hears hold music (MusicOnHoldStart after the answer)
    wait_seconds: float | None = None
    ring_seconds: float | None = None
    talk_seconds: float | None = None
    complete_reason: AgentCompleteReason | None = None
    first_hangup_side: HungUpBy | None = None
    recording: str | None = None
    recording_agent: str | None = None
    recording_customer: str | None = None
    ended_at: datetime | None = None
    end_inferred: bool = False

    def role(self, channel: _Channel) -> Party | None:
        return self.roles.get(channel.pair)

    def outside_number(self) -> str | None:
        if self.customer_number:
            return self.customer_number
        return self.dialed if self.direction() is Direction.OUTBOUND else self.caller

    def note_connected(self, at: datetime) -> None:
        """Answered once an agent and the customer are both on the line. An inbound caller is
        there from the start (the PBX answering the caller before the queue is no answer);
        an outside party called by the centre must pick up too, before or after the agent."""
        if self.answered_at is not None or self.agent_answered_at is None:
            return
        if self.direction() is Direction.INBOUND or self.customer_answered_at is not None:
            self.answered_at = at

    def direction(self) -> Direction:
        if self.call_type is CallType.INBOUND:
            return Direction.INBOUND
        if self.call_type is CallType.CALLBACK or self.originated:
            return Direction.OUTBOUND
        return Direction.INBOUND


@dataclass(frozen=True, slots=True)
class RingingPhone:
    """An agent's phone ringing now (the wallboard's and the agent's own "ringing")."""

    linkedid: str
    interface: str
    extension: str | None
    since: datetime


@dataclass(slots=True)
class _ExpectedOriginate:
    attempt_id: int | None
    dialed: str | None


# How long an ended call is kept whole, for the events that come after its end (Asterisk's own
# stragglers come within milliseconds; a list of live channels asked for before the end may
# still name it for the seconds it takes to arrive) and for the wallboard until the database
# has it (the call store writes within a second). Its id, and its callback attempt's, are kept
# far longer, at a few dozen bytes each (`ended`, `ended_attempts`): a whole call costs about
# 3.5 kB, and a window counted in calls (the last 5,000) held a busy morning's worth, so the
# process grew all day (bench/README.md, *A busy day*).
RECENT_WINDOW = timedelta(minutes=1)
RECENT_LIMIT = 5000  # and at most this many, whatever the call rate
ENDED_LIMIT = 20_000  # ≈ 4 MB when full; hours of a busy floor


class CallTracker:
    """Follows every call on one PBX. Feed it events in arrival order."""

    def __init__(
        self,
        agents: AgentDirectory | None = None,
        *,
        recent_window: timedelta | None = RECENT_WINDOW,
        recent_limit: int = RECENT_LIMIT,
        ended_limit: int = ENDED_LIMIT,
    ) -> None:
        """`recent_window` None keeps ended calls whole by count alone (`callcentre ami
        replay`, whose captures carry no times)."""
        self.agents = agents or AgentDirectory()
        self._open: dict[str, _Call] = {}
        self._by_uid: dict[str, _Call] = {}
        self._recent: OrderedDict[str, _Call] = OrderedDict()  # ended calls, whole
        # Every ended call's linkedid → its callback attempt, in the order they ended.
        self._ended: OrderedDict[str, int | None] = OrderedDict()
        # Calls that had events since a list of live channels was asked for (`resync_asked`):
        # the list may predate them, so their absence from it proves nothing.
        self._since_asked: set[str] | None = None
        self._recent_uids: dict[str, str] = {}
        self._recent_window = recent_window
        self._recent_limit = recent_limit
        self._ended_limit = ended_limit
        self._expected: OrderedDict[str, _ExpectedOriginate] = OrderedDict()
        # Legs the call controls originate into a call: their uniqueid (which Asterisk also
        # gives them, and the channels they dial, as linkedid) → the call's linkedid; and
        # their Originate's ActionID, whose response is no call of its own.
        self._joining: OrderedDict[str, str] = OrderedDict()
        self._joining_actions: OrderedDict[str, str] = OrderedDict()
        self._received: float | None = None  # monotonic arrival of the event being applied
        # Calls picked up by a resync, whose channel variables the bridge should ask for.
        self.adopted: list[tuple[str, str, str]] = []  # (linkedid, uniqueid, channel)
        self._handlers: dict[
            str, Callable[[Mapping[str, Any], datetime, list[DomainEvent]], None]
        ] = {
            "Newchannel": self._newchannel,
            "NewCallerid": self._newcallerid,
            "VarSet": self._varset,
            "DialBegin": self._dialbegin,
            "DialEnd": self._dialend,
            "QueueCallerJoin": self._queue_caller_join,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._agent_ring_no_answer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueCallerAbandon": self._queue_caller_abandon,
            "QueueCallerLeave": self._queue_caller_leave,
            "BlindTransfer": self._blind_transfer,
            "Newexten": self._newexten,
            "BridgeEnter": self._bridge_enter,
            "BridgeLeave": self._bridge_leave,
            "MusicOnHoldStart": self._music_on_hold,
            "MusicOnHoldStop": self._music_on_hold,
            "MixMonitorStart": self._mixmonitor_start,
            "HangupRequest": self._hangup_request,
            "SoftHangupRequest": self._hangup_request,
            "Hangup": self._hangup,
            "OriginateResponse": self._originate_response,
        }

    # -- public -------------------------------------------------------------------------

    @property
    def handled_events(self) -> frozenset[str]:
        """The AMI events that can change a call; the bridge need not parse any other."""
        return frozenset(self._handlers)

    handled_variables = contract.TRACKED_VARIABLES  # VarSet of other variables changes nothing
    handled_applications = frozenset({"Queue"})  # Newexten of other applications neither

    def feed(
        self, event: Mapping[str, Any], at: datetime, received: float | None = None
    ) -> list[DomainEvent]:
        """Apply one AMI event; returns what it means for the business, possibly nothing."""
        handler = self._handlers.get(_text(event.get("Event")) or "")
        if handler is None or is_spy_event(event):
            return []  # a supervisor listening in is no call, nor part of the agent's
        out: list[DomainEvent] = []
        self._received = received
        if self._since_asked is not None:
            for key in ("Linkedid", "DestLinkedid"):
                linkedid = _text(event.get(key))
                if linkedid:
                    self._since_asked.add(self._joining.get(linkedid, linkedid))
        handler(event, at, out)
        self._announce_arrival(_text(event.get("Linkedid")), out)
        return out

    def resync_asked(self) -> None:
        """The PBX has been asked for its live channels; events fed from now on may be newer
        than its answer, and the calls they concern are not ended for missing from it."""
        if self._since_asked is None:
            self._since_asked = set()

    def expect_originate(
        self, action_id: str, *, attempt_id: int | None, dialed: str | None
    ) -> None:
        """The dialer is about to originate: lets a failed OriginateResponse, which names no
        channel, be tied to its attempt."""
        self._expected[action_id] = _ExpectedOriginate(attempt_id, dialed)
        while len(self._expected) > 1000:
            self._expected.popitem(last=False)

    def expect_joining(self, action_id: str, *, uniqueid: str, linkedid: str) -> None:
        """The call controls are about to originate a leg into call `linkedid` with this
        ChannelId: its channels (and those it dials, which Asterisk gives the same linkedid)
        belong to that call, and its OriginateResponse is no call of its own."""
        self._joining[uniqueid] = linkedid
        self._joining_actions[action_id] = linkedid
        for index in (self._joining, self._joining_actions):
            while len(index) > 1000:
                index.popitem(last=False)

    def note_transfer(self, linkedid: str) -> None:
        """The call controls sent the customer on to another party themselves (a Redirect,
        which Asterisk does not announce as a transfer): as a BlindTransfer event would."""
        call = self._open.get(linkedid)
        if call is not None and call.answered_at is not None:
            self._hand_on(call)

    def parties(self, linkedid: str) -> CallParties | None:
        """Who is on a live call now, and where: what the call controls act on."""
        call = self._open.get(linkedid)
        if call is None:
            return None
        customer = call.channels.get(call.customer_uid or "")
        live = [c for c in call.channels.values() if not c.hung_up]
        with_customer = self._with_customer(call)
        legs = []
        for channel in live:
            role = call.role(channel)
            extension = self.agents.extension_of(interface_of(channel.name))
            if role not in (Party.AGENT, Party.JOINED, Party.OUTSIDE):
                continue
            legs.append(
                PartyLeg(
                    channel=channel.name,
                    role=role,
                    extension=extension if role == Party.AGENT else None,
                    local=channel.name.startswith("Local/"),
                    with_customer=channel.uniqueid in with_customer,
                    beside_customer=customer is not None
                    and channel.bridge is not None
                    and channel.bridge == customer.bridge,
                    in_room=channel.bridge in call.rooms,
                    bridged=channel.bridge is not None,
                    joined=channel.joined,
                    first_half=channel.name.endswith(";1") or not channel.name.startswith("Local/"),
                    reaches=self._reached_agent(call, channel) if role == Party.JOINED else None,
                )
            )
        current = self.agents.extension_of(
            interface_of(next((c.name for c in live if c.pair == call.agent_pair), ""))
        )
        return CallParties(
            linkedid=call.linkedid,
            answered=call.answered_at is not None,
            customer=customer.name if customer is not None and not customer.hung_up else None,
            customer_bridged=customer is not None and customer.bridge is not None,
            customer_in_room=customer is not None and customer.bridge in call.rooms,
            on_hold=call.on_hold,
            agent_extension=current,
            legs=tuple(legs),
        )

    def _reached_agent(self, call: _Call, leg: _Channel) -> str | None:
        """The agent an added Local leg reached: the one bridged with its other half."""
        twins = {
            c.bridge
            for c in call.channels.values()
            if c.pair == leg.pair and c is not leg and c.bridge and not c.hung_up
        }
        for channel in call.channels.values():
            if (
                not channel.hung_up
                and call.role(channel) == Party.AGENT
                and channel.bridge in twins
            ):
                return self.agents.extension_of(interface_of(channel.name))
        return None

    def ended(self, linkedid: str) -> bool:
        """Whether this call was followed and has ended (among the last `ended_limit`)."""
        return linkedid in self._ended

    def ended_attempts(self) -> set[int]:
        """The callback attempts whose calls were followed to their end (among the last
        `ended_limit`): calls the PBX did make, whatever the database knows of them yet."""
        attempts = {a for a in self._ended.values() if a is not None}
        return attempts | {c.attempt_id for c in self._recent.values() if c.attempt_id is not None}

    @property
    def live_count(self) -> int:
        return len(self._open)

    def live_calls(self, *, agents: Collection[str] | None = None) -> list[CallRecord]:
        """The calls not ended yet; with `agents` (extensions), only those connected to one of
        them. A record costs far more than the test, so one agent's calls cost what that
        agent's calls cost, not what the whole floor's do (an agent-state push per phone
        event asks this)."""
        return [
            self._record(call)
            for call in self._open.values()
            if agents is None
            or (call.agent is not None and self.agents.extension_of(call.agent) in agents)
        ]

    def ringing_phones(self, *, agents: Collection[str] | None = None) -> list[RingingPhone]:
        """Agents' phones ringing now, each with its call and when it started ringing; with
        `agents` (extensions), only theirs."""
        ringing = (
            RingingPhone(
                call.linkedid,
                interface,
                self.agents.extension_of(interface),
                call.rang_at.get(uid, call.started_at),
            )
            for call in self._open.values()
            for uid, interface in call.ringing.items()
        )
        return [r for r in ringing if agents is None or r.extension in agents]

    def recent_calls(self) -> list[CallRecord]:
        """The calls that ended within the window (`RECENT_WINDOW`), oldest end first."""
        return [self._record(call) for call in self._recent.values()]

    def restore(self, records: Iterable[CallRecord]) -> None:
        """Calls the database still thinks are live (bridge restart); resync settles them."""
        for record in records:
            if record.linkedid in self._open:
                continue
            call = _Call(
                linkedid=record.linkedid,
                started_at=record.started_at,
                caller=record.caller,
                dialed=record.dialed,
                queue=record.queue,
                joined_queue=record.queue is not None,
                agent=record.agent,
                answered_at=record.answered_at,
                attempt_id=record.attempt_id,
                customer_number=record.customer_number,
                call_type=(
                    CallType.INBOUND if record.direction is Direction.INBOUND else CallType.CALLBACK
                ),
                recording=record.recording,
                recording_agent=record.recording_agent,
                recording_customer=record.recording_customer,
                agents_rung=list(record.agents_rung),
                agents_connected=list(record.agents_connected),
                wait_seconds=record.wait_seconds,
                ring_seconds=record.ring_seconds,
            )
            call.connected = record.answered_at is not None
            # An answered call was bridged: its recordings stay on the record.
            call.bridged_at = record.answered_at
            call.agent_answered_at = record.answered_at
            self._open[call.linkedid] = call

    def resync(self, channels: Iterable[Mapping[str, Any]], at: datetime) -> list[DomainEvent]:
        """Settle the tracker against the PBX's list of live channels (CoreShowChannels).

        Calls with no live channel ended while we were away: they are closed with
        `end_inferred`, unless they had events since the list was asked for (`resync_asked`).
        Live channels we do not know are adopted, never duplicated; a channel we saw hang up
        is not live, whatever the list says (it was answered before the Hangup was applied).
        """
        out: list[DomainEvent] = []
        live: dict[str, list[Mapping[str, Any]]] = {}
        for item in channels:
            linkedid = known(_text(item.get("Linkedid")))
            uid = known(_text(item.get("Uniqueid")))
            if linkedid and uid and not is_spy_leg(linkedid) and not self._hangup_seen(uid):
                live.setdefault(linkedid, []).append(item)
        since_asked, self._since_asked = self._since_asked or set(), None
        for linkedid, call in list(self._open.items()):
            if linkedid not in live and linkedid not in since_asked:
                call.end_inferred = True
                for channel in call.channels.values():
                    channel.hung_up = True
                self._end(call, at, out)
        for linkedid, items in live.items():
            known_call = self._open.get(linkedid)
            if known_call is None and linkedid in self._recent:
                known_call = self._reopen(linkedid)
            if known_call is None:
                known_call = self._adopt(linkedid, items, at)
            else:
                self._merge_live(known_call, items, at, settled=linkedid not in since_asked)
            out.append(CallUpdated(self._record(known_call)))
        return out

    def _hangup_seen(self, uid: str) -> bool:
        """Whether Asterisk told us this channel hung up. The list of live channels is
        answered while events keep coming: a Hangup that arrived while the list was being sent
        is applied before the list, which still names the channel. Taking the list's word would
        reopen a call that has ended, and end it a second time at the next resync (a second
        `CallEnded`: a second `ended` to the agent, a second form)."""
        call = self._by_uid.get(uid) or self._recent.get(self._recent_uids.get(uid, ""))
        channel = call.channels.get(uid) if call is not None else None
        return channel is not None and channel.hangup_seen

    # -- bookkeeping ------------------------------------------------------------------------

    def _call(self, event: Mapping[str, Any], uid_key: str = "Uniqueid") -> _Call | None:
        uid = _text(event.get(uid_key))
        if uid is not None and uid in self._by_uid:
            return self._by_uid[uid]
        linkedid = _text(event.get("Linkedid" if uid_key == "Uniqueid" else "DestLinkedid"))
        if not linkedid:
            return None
        return self._open.get(self._joining.get(linkedid, linkedid))

    def _register(self, call: _Call, uid: str, name: str) -> _Channel:
        channel = call.channels.get(uid)
        if channel is None:
            channel = _Channel(uid, name, local_pair_of(name))
            call.channels[uid] = channel
            self._by_uid[uid] = call
        return channel

    def _set_role(self, call: _Call, channel: _Channel, role: Party) -> None:
        call.roles[channel.pair] = role
        if role == Party.CUSTOMER and call.customer_uid is None:
            call.customer_uid = channel.uniqueid
        if role == Party.AGENT and call.customer_uid is not None:
            customer = call.channels.get(call.customer_uid)
            if customer is not None and customer.pair == channel.pair:
                call.customer_uid = None

    def _reopen(self, linkedid: str) -> _Call:
        call = self._recent.pop(linkedid)
        self._ended.pop(linkedid, None)
        call.ended_at = None
        call.end_inferred = False
        self._open[linkedid] = call
        for uid in call.channels:
            self._recent_uids.pop(uid, None)
            self._by_uid[uid] = call
        return call

    def _forget_ended(self, now: datetime) -> None:
        """Let go of the whole calls that ended before the window, and of the oldest ids."""
        horizon = None if self._recent_window is None else now - self._recent_window
        while self._recent:
            oldest = next(iter(self._recent.values()))
            expired = (
                horizon is not None and oldest.ended_at is not None and oldest.ended_at < horizon
            )
            if not expired and len(self._recent) <= self._recent_limit:
                break
            self._recent.popitem(last=False)
            for uid in oldest.channels:
                self._recent_uids.pop(uid, None)
        while len(self._ended) > self._ended_limit:
            self._ended.popitem(last=False)

    def _update(self, call: _Call, out: list[DomainEvent]) -> None:
        out.append(CallUpdated(self._record(call)))

    def _announce_arrival(self, linkedid: str | None, out: list[DomainEvent]) -> None:
        """CallArrived, once, as soon as the call is known to be a customer calling in (the
        dialplan said so, or it joined a queue without being originated) with their number,
        and before any phone rings for it."""
        call = self._open.get(linkedid) if linkedid else None
        if call is None or call.arrival_told:
            return
        inbound = call.call_type is CallType.INBOUND or (
            call.call_type is None and call.joined_queue and not call.originated
        )
        number = call.outside_number()
        if (
            inbound
            and number
            and call.attempt_id is None
            and not call.agents_rung
            and call.agent is None
            and call.ended_at is None
        ):
            call.arrival_told = True
            out.append(CallArrived(call.linkedid, number, call.started_at))

    # -- channel events -----------------------------------------------------------------

    def _newchannel(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        uid, linkedid = _text(event.get("Uniqueid")), _text(event.get("Linkedid"))
        name = _text(event.get("Channel"))
        if not (known(uid) and known(linkedid) and name) or uid in self._by_uid:
            return
        assert uid is not None and linkedid is not None
        if linkedid in self._joining:  # a leg the call controls added to a live call
            joined_call = self._open.get(self._joining[linkedid])
            if joined_call is not None:
                self._register(joined_call, uid, name).joined = True
            return
        call = self._open.get(linkedid)
        if call is None and _text(event.get("Context")) == contract.CONTEXT_SELFTEST:
            return  # `callcentre pbx check`'s recording test: nobody's call, never stored
        created = call is None
        if call is None and linkedid in self._recent:
            call = self._reopen(linkedid)
        if call is None:
            call = _Call(linkedid=linkedid, started_at=at)
            self._open[linkedid] = call
        channel = self._register(call, uid, name)
        if uid == linkedid:
            call.caller = call.caller or known(_text(event.get("CallerIDNum")))
            if not call.roles:
                self._set_role(call, channel, Party.CUSTOMER)
        if created:
            self._update(call, out)

    def _newcallerid(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        if call is not None and _text(event.get("Uniqueid")) == call.linkedid:
            call.caller = call.caller or known(_text(event.get("CallerIDNum")))

    def _varset(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        variable = _text(event.get("Variable"))
        if variable not in contract.TRACKED_VARIABLES:
            return
        call = self._call(event)
        value = _text(event.get("Value")) or None
        if call is None or value is None:
            return
        if variable == contract.VAR_CALL_TYPE:
            call.call_type = _call_type(value)
        elif variable == contract.VAR_ATTEMPT_ID:
            call.attempt_id = int(value) if value.isdigit() else call.attempt_id
        elif variable == contract.VAR_CUSTOMER_NUMBER:
            call.customer_number = value
        elif variable == contract.VAR_MIXMONITOR_FILENAME:
            call.recording = value
        elif variable == contract.VAR_REC_AGENT:
            call.recording_agent = value
        elif variable == contract.VAR_REC_CUSTOMER:
            call.recording_customer = value
        elif variable == contract.VAR_QUEUESTATUS:
            call.queue_status = _queue_result(value)

    # -- dialing ------------------------------------------------------------------------

    def _ring(
        self, call: _Call, uid: str, interface: str, at: datetime, out: list[DomainEvent]
    ) -> None:
        if uid in call.ringing:
            return
        call.ringing[uid] = interface
        call.rang_at[uid] = at
        if interface not in call.agents_rung:
            call.agents_rung.append(interface)
        out.append(
            AgentRinging(
                linkedid=call.linkedid,
                interface=interface,
                extension=self.agents.extension_of(interface),
                caller=call.outside_number(),
                queue=call.queue,
                direction=call.direction(),
                at=at,
                attempt_id=call.attempt_id,
                received_at=self._received,
            )
        )

    def _dialbegin(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        dest_uid, dest_name = _text(event.get("DestUniqueid")), _text(event.get("DestChannel"))
        dialstring = _text(event.get("DialString")) or ""
        call = self._call(event, "DestUniqueid")
        if call is None or not (known(dest_uid) and dest_name):
            return
        assert dest_uid is not None
        dest = self._register(call, dest_uid, dest_name)
        source_uid = _text(event.get("Uniqueid"))
        interface = interface_of(dest_name)
        if dest.joined:
            self._joined_dial(call, dest, interface, source_uid, at, out)
            return
        if source_uid is None:  # an Originate dialing its first leg
            call.originated = True
            if self.agents.is_agent(dialstring) or self.agents.is_agent(interface):
                self._set_role(call, dest, Party.AGENT)
                self._ring(call, dest_uid, interface, at, out)
            else:
                self._set_role(call, dest, Party.CUSTOMER)
                call.dialed = call.dialed or dialed_number(dialstring)
                call.customer_dialed_at = call.customer_dialed_at or at
            return
        source = call.channels.get(source_uid)
        source_role = call.role(source) if source is not None else None
        if source is not None and source_role == Party.AGENT and self._same_agent(source, dest):
            # A Local member or originate leg (Local/1001@agents, FreePBX's from-queue) dialing
            # the agent's own phone: one hop further along the same party, nobody new rings.
            self._set_role(call, dest, Party.AGENT)
            return
        to_customer = source_role == Party.AGENT or (
            source_role is None
            and not self.agents.is_agent(interface)
            and dialed_number(dialstring) is not None
        )
        if to_customer:
            self._set_role(call, dest, Party.CUSTOMER)
            call.dialed = call.dialed or dialed_number(dialstring)
            call.customer_dialed_at = call.customer_dialed_at or at
            return
        if call.roles.get(dest.pair) is None:
            self._set_role(call, dest, Party.AGENT)
        if not call.joined_queue or call.transferring:  # a queue announces its own members
            self._ring(call, dest_uid, interface, at, out)

    def _joined_dial(
        self,
        call: _Call,
        dest: _Channel,
        interface: str,
        source_uid: str | None,
        at: datetime,
        out: list[DomainEvent],
    ) -> None:
        """A leg the call controls added: its Local channel, then the colleague's phone (who
        rings: a pop) or the outside number it dials."""
        if source_uid is None or call.roles.get(dest.pair) == Party.JOINED:
            self._set_role(call, dest, Party.JOINED)
        elif self.agents.is_agent(interface):
            self._set_role(call, dest, Party.AGENT)
            self._ring(call, dest.uniqueid, interface, at, out)
        else:
            self._set_role(call, dest, Party.OUTSIDE)

    def _same_agent(self, first: _Channel, second: _Channel) -> bool:
        extension = self.agents.extension_of(interface_of(first.name))
        return extension is not None and extension == self.agents.extension_of(
            interface_of(second.name)
        )

    def _dialend(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event, "DestUniqueid")
        dest_uid = _text(event.get("DestUniqueid"))
        status = _dial_status(event.get("DialStatus"))
        if call is None or dest_uid is None or dest_uid not in call.channels:
            return
        dest = call.channels[dest_uid]
        if call.role(dest) == Party.CUSTOMER:
            call.customer_dial_status = status
            call.customer_ring_ended_at = call.customer_ring_ended_at or at
            if status is DialStatus.ANSWER and call.customer_answered_at is None:
                call.customer_answered_at = at
                call.note_connected(at)
                self._update(call, out)
            return
        interface = call.ringing.pop(dest_uid, None)
        if interface is None:
            return  # not ringing any more: a duplicate DialEnd
        if (
            status is DialStatus.ANSWER and dest.joined
        ):  # a colleague picked up a consult/conference
            out.append(
                CallAnswered(call.linkedid, interface, self.agents.extension_of(interface), at)
            )
            return
        if status is DialStatus.ANSWER:
            self._answer(call, interface, dest.pair, at, out)
            return
        if not dest.joined:
            call.agent_dial_status = status
        if status is DialStatus.CANCEL:
            reason = _ring_taken_away(call)
        elif status is None:
            reason = RingStopReason.UNKNOWN
        else:
            reason = RING_STOP_REASONS.get(status, RingStopReason.UNKNOWN)
        out.append(
            RingStopped(call.linkedid, interface, self.agents.extension_of(interface), reason, at)
        )

    def _answer(
        self, call: _Call, interface: str, pair: str, at: datetime, out: list[DomainEvent]
    ) -> None:
        if call.agent_pair is not None:
            return
        call.agent = call.agent or interface
        call.agent_pair = pair
        call.agents_connected.append(interface)
        call.transferring = False
        call.agent_answered_at = call.agent_answered_at or at
        call.note_connected(at)
        out.append(CallAnswered(call.linkedid, interface, self.agents.extension_of(interface), at))
        self._update(call, out)

    # -- queues -------------------------------------------------------------------------

    def _joined_event(self, call: _Call, event: Mapping[str, Any]) -> bool:
        """Whether the event's channel is a leg the call controls added (a consult that waits
        in a queue is no queueing of the customer's)."""
        channel = call.channels.get(_text(event.get("Uniqueid")) or "")
        return channel is not None and channel.joined

    def _queue_caller_join(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None and not self._joined_event(call, event):
            call.queue = _text(event.get("Queue")) or call.queue
            call.joined_queue = True
            call.queued_at = call.queued_at or at

    def _agent_called(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        dest_uid, dest_name = _text(event.get("DestUniqueid")), _text(event.get("DestChannel"))
        interface = _text(event.get("Interface"))
        if call is None or not (dest_uid and dest_name and interface):
            return
        if not self._joined_event(call, event):
            call.queue = call.queue or _text(event.get("Queue"))
            call.joined_queue = True
            call.queued_at = call.queued_at or at
        self._set_role(call, self._register(call, dest_uid, dest_name), Party.AGENT)
        self._ring(call, dest_uid, interface, at, out)

    def _agent_ring_no_answer(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        uid = _text(event.get("DestUniqueid"))
        if call is not None and uid is not None and uid in call.ringing:
            interface = call.ringing.pop(uid)
            out.append(
                RingStopped(
                    call.linkedid,
                    interface,
                    self.agents.extension_of(interface),
                    RingStopReason.NO_ANSWER,
                    at,
                )
            )

    def _agent_connect(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        interface = _text(event.get("Interface"))
        if call is None or interface is None:
            return
        if self._joined_event(call, event):  # a colleague took the consult from the queue
            call.ringing.pop(_text(event.get("DestUniqueid")) or "", None)
            out.append(
                CallAnswered(call.linkedid, interface, self.agents.extension_of(interface), at)
            )
            return
        call.connected = True
        call.wait_seconds = _number(event.get("HoldTime"))
        call.ring_seconds = _number(event.get("RingTime"))
        uid = _text(event.get("DestUniqueid"))
        channel = call.channels.get(uid or "")
        call.ringing.pop(uid or "", None)
        if call.agent_pair is None and channel is not None:
            self._answer(call, interface, channel.pair, at, out)
        else:
            call.agent = interface
            self._update(call, out)

    def _agent_complete(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is None or self._joined_event(call, event):
            return
        call.wait_seconds = call.wait_seconds or _number(event.get("HoldTime"))
        reason = _complete_reason(event.get("Reason"))
        if reason is AgentCompleteReason.TRANSFER:
            return  # the agent's part ended, the call goes on: measured to its real end
        member = call.channels.get(_text(event.get("DestUniqueid")) or "")
        if member is not None and call.agent_pair not in (None, member.pair):
            return  # the member handed the call on (a consult completed): it goes on
        call.talk_seconds = _number(event.get("TalkTime"))
        call.complete_reason = reason

    def _blind_transfer(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        """The agent handed the customer to another extension: the conversation goes on with
        whoever answers next, so nothing measured about its end so far stands."""
        if _text(event.get("Result")) != TransferResult.SUCCESS:
            return
        call = self._call(event, "TransfereeUniqueid")
        if call is None or call.answered_at is None:
            return
        self._hand_on(call)
        self._update(call, out)

    @staticmethod
    def _hand_on(call: _Call) -> None:
        call.transferring = True
        call.agent_pair = None
        call.first_hangup_side = call.complete_reason = None
        call.talk_ended_at = None
        call.talk_seconds = None

    def _queue_caller_abandon(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        """The caller left the queue unanswered. Asterisk says so on a timeout too (the
        QUEUESTATUS that follows tells the two apart)."""
        call = self._call(event)
        if call is not None and not self._joined_event(call, event):
            call.abandoned = True
            call.wait_seconds = _number(event.get("HoldTime"))

    def _queue_caller_leave(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None and not self._joined_event(call, event):
            call.left_queue_at = call.left_queue_at or at

    def _newexten(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        """Queue() starting names its queue even when the caller never joins it (joinempty)."""
        if _text(event.get("Application")) != "Queue":
            return
        call = self._call(event)
        if call is not None and call.queue is None:
            call.queue = (_text(event.get("AppData")) or "").split(",")[0].strip() or None

    # -- bridging, recording, hanging up ----------------------------------------------------

    def _bridge_enter(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        bridge, uid = _text(event.get("BridgeUniqueid")), _text(event.get("Uniqueid"))
        if call is None or bridge is None or uid not in call.channels:
            return
        call.channels[uid].bridge = bridge
        if _text(event.get("BridgeCreator")) == CONFBRIDGE:
            call.rooms.add(bridge)
        if call.bridged_at is not None:
            self._note_agents_with_customer(call, out)
        members = call.bridges.setdefault(bridge, set())
        members.add(uid)
        roles = {call.role(call.channels[m]) for m in members}
        if call.bridged_at is None and {Party.CUSTOMER, Party.AGENT} <= roles:
            call.bridged_at = at
            if call.agent_pair is None:
                agent = next(
                    call.channels[m] for m in members if call.role(call.channels[m]) == Party.AGENT
                )
                self._answer(call, interface_of(agent.name), agent.pair, at, out)
            call.answered_at = call.answered_at or at
            out.append(CallBridged(call.linkedid, at))

    def _bridge_leave(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        channel = call.channels.get(_text(event.get("Uniqueid")) or "") if call else None
        if channel is not None and channel.bridge == _text(event.get("BridgeUniqueid")):
            channel.bridge = None

    def _music_on_hold(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        """Hold music for the answered customer: the call controls' hold (the queue's music
        while the caller waits is no hold)."""
        call = self._call(event)
        if call is None or call.answered_at is None or call.customer_uid is None:
            return
        if _text(event.get("Uniqueid")) == call.customer_uid:
            call.on_hold = _text(event.get("Event")) == "MusicOnHoldStart"

    def _with_customer(self, call: _Call) -> set[str]:
        """The uniqueids of the live channels the customer talks with now: the customer's
        bridge, and through each Local channel in it, its other half's bridge."""
        customer = call.channels.get(call.customer_uid or "")
        if customer is None or customer.hung_up or customer.bridge is None:
            return set()
        by_bridge: dict[str, list[_Channel]] = {}
        for channel in call.channels.values():
            if channel.bridge is not None and not channel.hung_up:
                by_bridge.setdefault(channel.bridge, []).append(channel)
        reached: set[str] = set()
        pending = [customer.bridge]
        seen_bridges: set[str] = set()
        while pending:
            bridge = pending.pop()
            if bridge in seen_bridges:
                continue
            seen_bridges.add(bridge)
            for channel in by_bridge.get(bridge, []):
                reached.add(channel.uniqueid)
                for twin in call.channels.values():
                    if twin.pair == channel.pair and twin.bridge and not twin.hung_up:
                        pending.append(twin.bridge)
        reached.discard(customer.uniqueid)
        return reached

    def _note_agents_with_customer(self, call: _Call, out: list[DomainEvent]) -> None:
        """Every agent who comes to talk with the customer joins the call's chain (a
        conference's third party, a consult completed), in that order."""
        for uid in self._with_customer(call):
            channel = call.channels[uid]
            if call.role(channel) != Party.AGENT:
                continue
            interface = interface_of(channel.name)
            extension = self.agents.extension_of(interface)
            chained = {self.agents.extension_of(i) for i in call.agents_connected}
            if extension not in chained and not channel.name.startswith("Local/"):
                call.agents_connected.append(interface)
                if call.agent_pair is None:
                    call.agent_pair = channel.pair
                    call.transferring = False
                self._update(call, out)

    def _mixmonitor_start(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None:
            out.append(RecordingStarted(call.linkedid, call.recording, at))

    def _note_first_hangup(self, call: _Call, channel: _Channel, at: datetime) -> None:
        """The conversation's end: the customer or the agent on the call now hangs up (an agent
        who handed the call on leaving is no end)."""
        if call.bridged_at is None or call.first_hangup_side is not None:
            return
        customer = call.channels.get(call.customer_uid or "")
        if customer is not None and channel.pair == customer.pair:
            call.first_hangup_side = HungUpBy.CUSTOMER
        elif call.agent_pair is not None and channel.pair == call.agent_pair:
            leaving = self.agents.extension_of(interface_of(channel.name))
            staying = [
                call.channels[uid]
                for uid in self._with_customer(call)
                if call.role(call.channels[uid]) == Party.AGENT
                and call.channels[uid].pair != channel.pair
                and self.agents.extension_of(interface_of(call.channels[uid].name)) != leaving
            ]
            if staying:  # another agent stays with the customer: the call is theirs now
                call.agent_pair = staying[0].pair
                return
            call.first_hangup_side = HungUpBy.AGENT
        else:
            return
        call.talk_ended_at = at

    def _hangup_request(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        channel = call.channels.get(_text(event.get("Uniqueid")) or "") if call else None
        if call is None or channel is None:
            return
        if (
            _text(event.get("Event")) == "SoftHangupRequest"
            and _integer(event.get("Cause")) == SoftHangup.SHUTDOWN
            and call.first_hangup_side is None  # the conversation, if any, was still going
        ):
            call.cut_by_pbx = True
        self._note_first_hangup(call, channel, at)

    def _hangup(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        uid, name = _text(event.get("Uniqueid")), _text(event.get("Channel"))
        if call is None or not (known(uid) and name):
            return
        assert uid is not None
        channel = self._register(call, uid, name)
        self._note_first_hangup(call, channel, at)
        channel.hung_up = True
        channel.hangup_seen = True
        channel.cause = _integer(event.get("Cause"))
        interface = call.ringing.pop(uid, None)
        if interface is not None:
            out.append(
                RingStopped(
                    call.linkedid,
                    interface,
                    self.agents.extension_of(interface),
                    _ring_taken_away(call),
                    at,
                )
            )
        if all(c.hung_up for c in call.channels.values()):
            self._end(call, at, out)

    def _end(self, call: _Call, at: datetime, out: list[DomainEvent]) -> None:
        call.ended_at = at
        for interface in call.ringing.values():
            out.append(
                RingStopped(
                    call.linkedid,
                    interface,
                    self.agents.extension_of(interface),
                    RingStopReason.CALLER_HUNG_UP,
                    at,
                )
            )
        call.ringing.clear()
        self._open.pop(call.linkedid, None)
        for uid in call.channels:
            self._by_uid.pop(uid, None)
            self._recent_uids[uid] = call.linkedid
        self._recent[call.linkedid] = call
        self._ended[call.linkedid] = call.attempt_id
        self._forget_ended(at)
        record = self._record(call)
        out.append(CallUpdated(record))
        out.append(CallEnded(record))

    # -- originate outcomes ---------------------------------------------------------------

    def _originated_call(
        self, event: Mapping[str, Any], expected: _ExpectedOriginate | None
    ) -> _Call | None:
        uid = known(_text(event.get("Uniqueid")))
        if uid is not None:
            call = self._by_uid.get(uid) or self._recent.get(self._recent_uids.get(uid, ""))
            if call is not None:
                return call
        candidates = [*reversed(self._open.values()), *reversed(self._recent.values())]
        if expected is not None and expected.attempt_id is not None:
            for call in candidates:
                if call.attempt_id == expected.attempt_id:
                    return call
        target = _text(event.get("Channel"))
        if target:
            for call in candidates:
                if call.originate_reason is None and any(
                    interface_of(c.name) == target for c in call.channels.values()
                ):
                    return call
        return None

    def _originate_response(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        reason = _originate_reason(event.get("Reason"))
        action_id = _text(event.get("ActionID")) or ""
        if action_id in self._joining_actions or _text(event.get("Uniqueid")) in self._joining:
            return  # a leg the call controls added to a call: that call's, not one of its own
        # Asterisk answers an Originate with one OriginateResponse: its expectation ends here
        # (kept, it filled the window of 1,000 over a morning's dials: memory for nothing).
        expected = self._expected.pop(action_id, None)
        call = self._originated_call(event, expected)
        if call is None:
            if (_text(event.get("Response")) or "").lower() == "success":
                return
            if _text(event.get("Context")) == contract.CONTEXT_SELFTEST:
                return
            # The PBX failed before creating any channel: the attempt still gets its record.
            target = _text(event.get("Channel")) or ""
            if not action_id and not target:
                return  # names neither an action nor a channel (Asterisk's always do): no call
            # Agent first, the number is the Exten the agent's leg was to run; customer first,
            # it is in the dial string.
            dialed = (expected.dialed if expected else None) or (
                dialed_number(_text(event.get("Exten")) or "")
                if self.agents.is_agent(target)
                else dialed_number(target)
            )
            call = _Call(
                linkedid=f"originate:{action_id or target}",
                started_at=at,
                originated=True,
                originate_reason=reason,
                call_type=CallType.CALLBACK,
                dialed=dialed,
                attempt_id=expected.attempt_id if expected else None,
            )
            if call.linkedid in self._recent:
                return
            self._open[call.linkedid] = call
            self._end(call, at, out)
            return
        call.originated = True
        call.originate_reason = reason
        if expected is not None and call.attempt_id is None:
            call.attempt_id = expected.attempt_id
        if call.ended_at is not None:
            self._update(call, out)  # a late response corrects the stored outcome

    # -- resync -----------------------------------------------------------------------------

    def _adopt(self, linkedid: str, items: list[Mapping[str, Any]], at: datetime) -> _Call:
        first = next((i for i in items if _text(i.get("Uniqueid")) == linkedid), items[0])
        call = _Call(
            linkedid=linkedid,
            started_at=at - _duration(first.get("Duration")),
            caller=known(_text(first.get("CallerIDNum"))),
        )
        context = _text(first.get("Context"))
        call.call_type = (
            CallType.CALLBACK
            if context in (contract.CONTEXT_CALLBACK, contract.CONTEXT_CALLBACK_QUEUE)
            else None
        )
        self._open[linkedid] = call
        self._merge_live(call, items, at)
        first_uid, first_name = _text(first.get("Uniqueid")), _text(first.get("Channel"))
        if first_uid and first_name:
            self.adopted.append((linkedid, first_uid, first_name))
        return call

    def _merge_live(
        self, call: _Call, items: list[Mapping[str, Any]], at: datetime, *, settled: bool = True
    ) -> None:
        """The listed channels join the call; when the call had no events since the list was
        asked for (`settled`), those it knows and the list does not name have hung up."""
        live_uids = set()
        bridged: dict[str, list[_Channel]] = {}
        for item in items:
            uid, name = _text(item.get("Uniqueid")), _text(item.get("Channel"))
            if not (uid and name):
                continue
            live_uids.add(uid)
            channel = self._register(call, uid, name)
            if call.roles.get(channel.pair) is None:
                is_agent = self.agents.is_agent(interface_of(name))
                if uid == call.linkedid and not is_agent:
                    self._set_role(call, channel, Party.CUSTOMER)
                elif is_agent:
                    self._set_role(call, channel, Party.AGENT)
            if _text(item.get("Application")) == "Queue" and call.queue is None:
                call.queue = (_text(item.get("ApplicationData")) or "").split(",")[0] or None
                call.joined_queue = call.queue is not None
            bridge = _text(item.get("BridgeId"))
            if bridge:
                bridged.setdefault(bridge, []).append(channel)
        for uid, channel in call.channels.items():
            if settled and uid not in live_uids:
                channel.hung_up = True
        for members in bridged.values():
            agents = [c for c in members if call.role(c) == Party.AGENT]
            if agents and any(call.role(c) == Party.CUSTOMER for c in members):
                call.bridged_at = call.bridged_at or at
                call.answered_at = call.answered_at or at
                if call.agent_pair is None:
                    call.agent = call.agent or interface_of(agents[0].name)
                    call.agent_pair = agents[0].pair
                call.connected = call.connected or call.joined_queue

    # -- records --------------------------------------------------------------------------

    def _outcome(self, call: _Call) -> CallOutcome | None:
        if call.ended_at is None:
            return None
        if not call.connected and call.cut_by_pbx:
            # Asterisk stopped before anyone answered (the caller did not leave)
            return CallOutcome.FAILED
        if not call.connected and call.queue_status in NO_AGENT_QUEUE_RESULTS:
            return CallOutcome.NO_AGENT
        if not call.connected and call.queue_status is QueueResult.TIMEOUT:
            # the queue gave up (Asterisk sends QueueCallerAbandon too)
            return CallOutcome.NO_ANSWER
        if call.abandoned:
            return CallOutcome.ABANDONED
        if call.connected:
            return CallOutcome.ANSWERED
        if call.direction() is Direction.OUTBOUND:
            if call.customer_dial_status is not None:
                return DIAL_OUTCOMES.get(call.customer_dial_status, CallOutcome.FAILED)
            if call.originate_reason is not None and (
                call.originate_reason is not OriginateReason.ANSWER or call.agent_pair is None
            ):
                return ORIGINATE_OUTCOMES[call.originate_reason]
            return CallOutcome.ANSWERED if call.bridged_at else CallOutcome.FAILED
        if call.bridged_at or call.agent:
            return CallOutcome.ANSWERED
        if call.joined_queue:
            # left the queue unanswered without abandoning: timed out
            return CallOutcome.NO_ANSWER
        status = call.agent_dial_status
        if status is None or status is DialStatus.CANCEL:
            return CallOutcome.ABANDONED
        return DIAL_OUTCOMES.get(status, CallOutcome.FAILED)

    def _hung_up_by(self, call: _Call, outcome: CallOutcome | None) -> HungUpBy | None:
        if outcome is CallOutcome.ABANDONED:
            return HungUpBy.CUSTOMER
        if outcome is CallOutcome.NO_AGENT or (
            outcome is CallOutcome.NO_ANSWER and call.queue_status is not None
        ):
            return HungUpBy.PBX
        if outcome is CallOutcome.FAILED and call.cut_by_pbx:
            return HungUpBy.PBX  # the dialplan hung up once Queue() gave up or refused the caller
        if outcome is not CallOutcome.ANSWERED:
            return None
        if call.cut_by_pbx:
            return HungUpBy.PBX
        if call.complete_reason is AgentCompleteReason.AGENT:
            return HungUpBy.AGENT
        if call.complete_reason is AgentCompleteReason.CALLER:
            return HungUpBy.CUSTOMER
        return call.first_hangup_side

    def _hangup_cause(self, call: _Call, outcome: CallOutcome | None) -> int | None:
        """The customer leg's Q.850 cause; a leg cancelled by Dial() says 0, so then its Local
        twin's, else the cause the dial status or the Originate's reason stands for; a caller
        who abandoned cleared the call normally (Asterisk 22 says 0 for a SIP caller's BYE
        while queued)."""
        customer = call.channels.get(call.customer_uid or "")
        if customer is not None and customer.stated_cause() is not None:
            return customer.stated_cause()
        if customer is not None:
            twin = next(
                (
                    c.stated_cause()
                    for c in call.channels.values()
                    if c.pair == customer.pair and c.stated_cause() is not None
                ),
                None,
            )
            if twin is not None:
                return twin
        implied = (
            DIAL_STATUS_CAUSES.get(call.customer_dial_status)
            if call.customer_dial_status is not None
            else None
        )
        if implied is None and call.originate_reason is not None:
            implied = ORIGINATE_REASON_CAUSES.get(call.originate_reason)
        if implied is None and outcome is CallOutcome.ABANDONED:
            implied = HangupCause.NORMAL_CLEARING  # what Asterisk's 0 meant for the caller
        if implied is not None:
            return int(implied)
        return customer.cause if customer is not None else None

    @staticmethod
    def _durations(call: _Call) -> tuple[float | None, float | None, float | None]:
        """(wait, ring, talk) in seconds: the queue's own figures when it gave them, else
        measured between the events (an agent-first callback has no queue: its customer waited
        for nobody, rang until picking up, talked from the answer to the first hangup)."""
        wait, ring, talk = call.wait_seconds, call.ring_seconds, call.talk_seconds
        if wait is None and call.queue_status in NO_AGENT_QUEUE_RESULTS:
            wait = _seconds(call.queued_at, call.left_queue_at) if call.queued_at else 0.0
        elif wait is None and call.queued_at is not None and call.left_queue_at is not None:
            wait = _seconds(call.queued_at, call.left_queue_at)
        elif wait is None and call.answered_at is not None and not call.joined_queue:
            wait = 0.0
        if ring is None and call.direction() is Direction.OUTBOUND and call.customer_dialed_at:
            ring = _seconds(call.customer_dialed_at, call.customer_ring_ended_at)
        if talk is None and call.answered_at is not None and call.ended_at is not None:
            talk = _seconds(call.answered_at, call.talk_ended_at or call.ended_at)
        return wait, ring, talk

    def _record(self, call: _Call) -> CallRecord:
        outcome = self._outcome(call)
        wait, ring, talk = self._durations(call)
        # MixMonitor's `b` records only while bridged: a call that never was has header-only
        # files, nothing to keep, transcribe or score.
        recorded = call.bridged_at is not None
        return CallRecord(
            linkedid=call.linkedid,
            direction=call.direction(),
            started_at=call.started_at,
            uniqueid=call.customer_uid,
            caller=call.caller,
            # An outside leg that could not even be created (Dial found no such number) never
            # showed its dial string; the dialplan's CC_CUSTOMER_NUMBER still says who it was.
            dialed=call.dialed
            or (call.customer_number if call.direction() is Direction.OUTBOUND else None),
            customer_number=call.outside_number(),
            queue=call.queue,
            agents_rung=tuple(call.agents_rung),
            agent=call.agent,
            agents_connected=tuple(call.agents_connected),
            agent_extension=self.agents.extension_of(call.agent) if call.agent else None,
            outcome=outcome,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            queued_at=call.queued_at,
            wait_seconds=wait,
            ring_seconds=ring,
            talk_seconds=talk,
            hung_up_by=self._hung_up_by(call, outcome),
            hangup_cause=self._hangup_cause(call, outcome) if call.ended_at else None,
            recording=call.recording if recorded else None,
            recording_agent=call.recording_agent if recorded else None,
            recording_customer=call.recording_customer if recorded else None,
            attempt_id=call.attempt_id,
            end_inferred=call.end_inferred,
        )


def _ring_taken_away(call: _Call) -> RingStopReason:
    """A ring cancelled by the PBX: another agent answered, or else the caller hung up."""
    return RingStopReason.ANSWERED_ELSEWHERE if call.agent else RingStopReason.CALLER_HUNG_UP


def _duration(value: Any) -> timedelta:
    match = _DURATION_RE.match(_text(value) or "")
    if not match:
        return timedelta(0)
    hours, minutes, seconds = (int(g) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)
