"""The call tracker: folds AMI events, grouped by Linkedid, into calls and domain events.

Pure: events in (each with the instant it arrived), `CallRecord`s and domain events out; no
I/O, no clock. Every handler is idempotent and tolerant of Asterisk's quirks (duplicate
DialEnd, Cdr before Hangup, OriginateResponse anywhere, `<unknown>` uniqueids, VarSet floods).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telephony import contract
from telephony.channels import AgentDirectory, dialed_number, interface_of, known, local_pair_of
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallBridged,
    CallEnded,
    CallRecord,
    CallUpdated,
    DomainEvent,
    RecordingStarted,
    RingStopped,
)

log = logging.getLogger(__name__)

CUSTOMER, AGENT = "customer", "agent"
ORIGINATE_OUTCOMES = {
    0: "failed",
    1: "failed",
    3: "no_answer",
    4: "answered",
    5: "busy",
    8: "congestion",
}
DIAL_OUTCOMES = {
    "ANSWER": "answered",
    "BUSY": "busy",
    "NOANSWER": "no_answer",
    "CANCEL": "no_answer",
    "CONGESTION": "congestion",
    "CHANUNAVAIL": "failed",
}
RING_STOP_REASONS = {
    "NOANSWER": "no_answer",
    "BUSY": "busy",
    "CHANUNAVAIL": "unavailable",
    "CONGESTION": "congestion",
}
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


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    name: str
    pair: str
    hung_up: bool = False
    cause: int | None = None


@dataclass(slots=True)
class _Call:
    linkedid: str
    started_at: datetime
    channels: dict[str, _Channel] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)  # Local pair key → customer | agent
    caller: str | None = None
    call_type: str | None = None
    customer_number: str | None = None
    attempt_id: int | None = None
    originated: bool = False
    originate_reason: int | None = None
    customer_uid: str | None = None
    dialed: str | None = None
    queue: str | None = None
    joined_queue: bool = False
    queued_at: datetime | None = None
    abandoned: bool = False
    connected: bool = False
    agents_rung: list[str] = field(default_factory=list)
    ringing: dict[str, str] = field(default_factory=dict)  # agent channel uniqueid → interface
    agent: str | None = None
    agent_pair: str | None = None
    customer_dial_status: str | None = None
    agent_dial_status: str | None = None
    answered_at: datetime | None = None
    bridged_at: datetime | None = None
    bridges: dict[str, set[str]] = field(default_factory=dict)
    wait_seconds: float | None = None
    ring_seconds: float | None = None
    talk_seconds: float | None = None
    complete_reason: str | None = None
    first_hangup_side: str | None = None
    recording: str | None = None
    recording_agent: str | None = None
    recording_customer: str | None = None
    ended_at: datetime | None = None
    end_inferred: bool = False

    def role(self, channel: _Channel) -> str | None:
        return self.roles.get(channel.pair)

    def outside_number(self) -> str | None:
        if self.customer_number:
            return self.customer_number
        return self.dialed if self.direction() == "outbound" else self.caller

    def direction(self) -> str:
        if self.call_type == contract.CALL_TYPE_INBOUND:
            return "inbound"
        if self.call_type == contract.CALL_TYPE_CALLBACK or self.originated:
            return "outbound"
        return "inbound"


@dataclass(slots=True)
class _ExpectedOriginate:
    attempt_id: int | None
    dialed: str | None


class CallTracker:
    """Follows every call on one PBX. Feed it events in arrival order."""

    def __init__(self, agents: AgentDirectory | None = None, *, recent_limit: int = 5000) -> None:
        self.agents = agents or AgentDirectory()
        self._open: dict[str, _Call] = {}
        self._by_uid: dict[str, _Call] = {}
        self._recent: OrderedDict[str, _Call] = OrderedDict()  # ended calls, for late events
        self._recent_uids: dict[str, str] = {}
        self._recent_limit = recent_limit
        self._expected: OrderedDict[str, _ExpectedOriginate] = OrderedDict()
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
            "BridgeEnter": self._bridge_enter,
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

    def feed(
        self, event: Mapping[str, Any], at: datetime, received: float | None = None
    ) -> list[DomainEvent]:
        """Apply one AMI event; returns what it means for the business, possibly nothing."""
        handler = self._handlers.get(_text(event.get("Event")) or "")
        if handler is None:
            return []
        out: list[DomainEvent] = []
        self._received = received
        handler(event, at, out)
        return out

    def expect_originate(
        self, action_id: str, *, attempt_id: int | None, dialed: str | None
    ) -> None:
        """The dialer is about to originate: lets a failed OriginateResponse, which names no
        channel, be tied to its attempt."""
        self._expected[action_id] = _ExpectedOriginate(attempt_id, dialed)
        while len(self._expected) > 1000:
            self._expected.popitem(last=False)

    def live_calls(self) -> list[CallRecord]:
        return [self._record(call) for call in self._open.values()]

    def recent_calls(self) -> list[CallRecord]:
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
                call_type=("inbound" if record.direction == "inbound" else "callback"),
                recording=record.recording,
                recording_agent=record.recording_agent,
                recording_customer=record.recording_customer,
                agents_rung=list(record.agents_rung),
                wait_seconds=record.wait_seconds,
                ring_seconds=record.ring_seconds,
            )
            call.connected = record.answered_at is not None
            self._open[call.linkedid] = call

    def resync(self, channels: Iterable[Mapping[str, Any]], at: datetime) -> list[DomainEvent]:
        """Settle the tracker against the PBX's list of live channels (CoreShowChannels).

        Calls with no live channel ended while we were away: they are closed with
        `end_inferred`. Live channels we do not know are adopted, never duplicated.
        """
        out: list[DomainEvent] = []
        live: dict[str, list[Mapping[str, Any]]] = {}
        for item in channels:
            linkedid = known(_text(item.get("Linkedid")))
            if linkedid and known(_text(item.get("Uniqueid"))):
                live.setdefault(linkedid, []).append(item)
        for linkedid, call in list(self._open.items()):
            if linkedid not in live:
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
                self._merge_live(known_call, items, at)
            out.append(CallUpdated(self._record(known_call)))
        return out

    # -- bookkeeping ------------------------------------------------------------------------

    def _call(self, event: Mapping[str, Any], uid_key: str = "Uniqueid") -> _Call | None:
        uid = _text(event.get(uid_key))
        if uid is not None and uid in self._by_uid:
            return self._by_uid[uid]
        linkedid = _text(event.get("Linkedid" if uid_key == "Uniqueid" else "DestLinkedid"))
        return self._open.get(linkedid) if linkedid else None

    def _register(self, call: _Call, uid: str, name: str) -> _Channel:
        channel = call.channels.get(uid)
        if channel is None:
            channel = _Channel(uid, name, local_pair_of(name))
            call.channels[uid] = channel
            self._by_uid[uid] = call
        return channel

    def _set_role(self, call: _Call, channel: _Channel, role: str) -> None:
        call.roles[channel.pair] = role
        if role == CUSTOMER and call.customer_uid is None:
            call.customer_uid = channel.uniqueid
        if role == AGENT and call.customer_uid is not None:
            customer = call.channels.get(call.customer_uid)
            if customer is not None and customer.pair == channel.pair:
                call.customer_uid = None

    def _reopen(self, linkedid: str) -> _Call:
        call = self._recent.pop(linkedid)
        call.ended_at = None
        call.end_inferred = False
        self._open[linkedid] = call
        for uid in call.channels:
            self._recent_uids.pop(uid, None)
            self._by_uid[uid] = call
        return call

    def _update(self, call: _Call, out: list[DomainEvent]) -> None:
        out.append(CallUpdated(self._record(call)))

    # -- channel events -----------------------------------------------------------------

    def _newchannel(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        uid, linkedid = _text(event.get("Uniqueid")), _text(event.get("Linkedid"))
        name = _text(event.get("Channel"))
        if not (known(uid) and known(linkedid) and name) or uid in self._by_uid:
            return
        assert uid is not None and linkedid is not None
        call = self._open.get(linkedid)
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
                self._set_role(call, channel, CUSTOMER)
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
            call.call_type = value
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

    # -- dialing ------------------------------------------------------------------------

    def _ring(
        self, call: _Call, uid: str, interface: str, at: datetime, out: list[DomainEvent]
    ) -> None:
        if uid in call.ringing:
            return
        call.ringing[uid] = interface
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
        if source_uid is None:  # an Originate dialing its first leg
            call.originated = True
            if self.agents.is_agent(dialstring) or self.agents.is_agent(interface):
                self._set_role(call, dest, AGENT)
                self._ring(call, dest_uid, interface, at, out)
            else:
                self._set_role(call, dest, CUSTOMER)
                call.dialed = call.dialed or dialed_number(dialstring)
            return
        source = call.channels.get(source_uid)
        source_role = call.role(source) if source is not None else None
        to_customer = source_role == AGENT or (
            source_role is None
            and not self.agents.is_agent(interface)
            and dialed_number(dialstring) is not None
        )
        if to_customer:
            self._set_role(call, dest, CUSTOMER)
            call.dialed = call.dialed or dialed_number(dialstring)
            return
        if call.roles.get(dest.pair) is None:
            self._set_role(call, dest, AGENT)
        if not call.joined_queue:  # a queue announces its members with AgentCalled
            self._ring(call, dest_uid, interface, at, out)

    def _dialend(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event, "DestUniqueid")
        dest_uid = _text(event.get("DestUniqueid"))
        status = (_text(event.get("DialStatus")) or "").upper()
        if call is None or dest_uid is None or dest_uid not in call.channels:
            return
        dest = call.channels[dest_uid]
        if call.role(dest) == CUSTOMER:
            call.customer_dial_status = status
            if status == "ANSWER" and call.answered_at is None:
                call.answered_at = at
                self._update(call, out)
            return
        interface = call.ringing.pop(dest_uid, None)
        if interface is None:
            return  # not ringing any more: a duplicate DialEnd
        if status == "ANSWER":
            self._answer(call, interface, dest.pair, at, out)
            return
        call.agent_dial_status = status
        if status == "CANCEL":
            reason = "answered_elsewhere" if call.agent else "caller_hung_up"
        else:
            reason = RING_STOP_REASONS.get(status, status.lower() or "unknown")
        out.append(
            RingStopped(call.linkedid, interface, self.agents.extension_of(interface), reason, at)
        )

    def _answer(
        self, call: _Call, interface: str, pair: str, at: datetime, out: list[DomainEvent]
    ) -> None:
        if call.agent is not None and call.agent_pair is not None:
            return
        call.agent, call.agent_pair = interface, pair
        call.answered_at = call.answered_at or at
        out.append(CallAnswered(call.linkedid, interface, self.agents.extension_of(interface), at))
        self._update(call, out)

    # -- queues -------------------------------------------------------------------------

    def _queue_caller_join(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None:
            call.queue = _text(event.get("Queue")) or call.queue
            call.joined_queue = True
            call.queued_at = call.queued_at or at

    def _agent_called(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        dest_uid, dest_name = _text(event.get("DestUniqueid")), _text(event.get("DestChannel"))
        interface = _text(event.get("Interface"))
        if call is None or not (dest_uid and dest_name and interface):
            return
        call.queue = call.queue or _text(event.get("Queue"))
        call.joined_queue = True
        call.queued_at = call.queued_at or at
        self._set_role(call, self._register(call, dest_uid, dest_name), AGENT)
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
                    call.linkedid, interface, self.agents.extension_of(interface), "no_answer", at
                )
            )

    def _agent_connect(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        interface = _text(event.get("Interface"))
        if call is None or interface is None:
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
        if call is not None:
            call.talk_seconds = _number(event.get("TalkTime"))
            call.wait_seconds = call.wait_seconds or _number(event.get("HoldTime"))
            call.complete_reason = _text(event.get("Reason"))

    def _queue_caller_abandon(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None:
            call.abandoned = True
            call.wait_seconds = _number(event.get("HoldTime"))

    # -- bridging, recording, hanging up ----------------------------------------------------

    def _bridge_enter(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        bridge, uid = _text(event.get("BridgeUniqueid")), _text(event.get("Uniqueid"))
        if call is None or bridge is None or uid not in call.channels:
            return
        members = call.bridges.setdefault(bridge, set())
        members.add(uid)
        roles = {call.role(call.channels[m]) for m in members}
        if call.bridged_at is None and {CUSTOMER, AGENT} <= roles:
            call.bridged_at = at
            if call.agent_pair is None:
                agent = next(
                    call.channels[m] for m in members if call.role(call.channels[m]) == AGENT
                )
                self._answer(call, interface_of(agent.name), agent.pair, at, out)
            call.answered_at = call.answered_at or at
            out.append(CallBridged(call.linkedid, at))

    def _mixmonitor_start(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        if call is not None:
            out.append(RecordingStarted(call.linkedid, call.recording, at))

    def _note_first_hangup(self, call: _Call, channel: _Channel) -> None:
        if call.bridged_at is None or call.first_hangup_side is not None:
            return
        customer = call.channels.get(call.customer_uid or "")
        if customer is not None and channel.pair == customer.pair:
            call.first_hangup_side = CUSTOMER
        elif channel.pair == call.agent_pair:
            call.first_hangup_side = AGENT

    def _hangup_request(
        self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]
    ) -> None:
        call = self._call(event)
        channel = call.channels.get(_text(event.get("Uniqueid")) or "") if call else None
        if call is not None and channel is not None:
            self._note_first_hangup(call, channel)

    def _hangup(self, event: Mapping[str, Any], at: datetime, out: list[DomainEvent]) -> None:
        call = self._call(event)
        uid, name = _text(event.get("Uniqueid")), _text(event.get("Channel"))
        if call is None or not (known(uid) and name):
            return
        assert uid is not None
        channel = self._register(call, uid, name)
        self._note_first_hangup(call, channel)
        channel.hung_up = True
        channel.cause = _integer(event.get("Cause"))
        interface = call.ringing.pop(uid, None)
        if interface is not None:
            out.append(
                RingStopped(
                    call.linkedid,
                    interface,
                    self.agents.extension_of(interface),
                    "answered_elsewhere" if call.agent else "caller_hung_up",
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
                    "caller_hung_up",
                    at,
                )
            )
        call.ringing.clear()
        self._open.pop(call.linkedid, None)
        for uid in call.channels:
            self._by_uid.pop(uid, None)
            self._recent_uids[uid] = call.linkedid
        self._recent[call.linkedid] = call
        while len(self._recent) > self._recent_limit:
            _, old = self._recent.popitem(last=False)
            for uid in old.channels:
                self._recent_uids.pop(uid, None)
        record = self._record(call)
        out.append(CallUpdated(record))
        out.append(CallEnded(record))

    # -- originate outcomes ---------------------------------------------------------------

    def _originated_call(self, event: Mapping[str, Any]) -> _Call | None:
        uid = known(_text(event.get("Uniqueid")))
        if uid is not None:
            call = self._by_uid.get(uid) or self._recent.get(self._recent_uids.get(uid, ""))
            if call is not None:
                return call
        expected = self._expected.get(_text(event.get("ActionID")) or "")
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
        reason = _integer(event.get("Reason"))
        action_id = _text(event.get("ActionID")) or ""
        call = self._originated_call(event)
        if call is None:
            if (_text(event.get("Response")) or "").lower() == "success":
                return
            # The PBX failed before creating any channel: the attempt still gets its record.
            expected = self._expected.get(action_id)
            target = _text(event.get("Channel")) or ""
            call = _Call(
                linkedid=f"originate:{action_id or target}",
                started_at=at,
                originated=True,
                originate_reason=reason,
                call_type="callback",
                dialed=(expected.dialed if expected else None) or dialed_number(target),
                attempt_id=expected.attempt_id if expected else None,
            )
            if call.linkedid in self._recent:
                return
            self._open[call.linkedid] = call
            self._end(call, at, out)
            return
        call.originated = True
        call.originate_reason = reason
        expected = self._expected.get(action_id)
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
            "callback"
            if context in (contract.CONTEXT_CALLBACK, contract.CONTEXT_CALLBACK_QUEUE)
            else None
        )
        self._open[linkedid] = call
        self._merge_live(call, items, at)
        first_uid, first_name = _text(first.get("Uniqueid")), _text(first.get("Channel"))
        if first_uid and first_name:
            self.adopted.append((linkedid, first_uid, first_name))
        return call

    def _merge_live(self, call: _Call, items: list[Mapping[str, Any]], at: datetime) -> None:
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
                    self._set_role(call, channel, CUSTOMER)
                elif is_agent:
                    self._set_role(call, channel, AGENT)
            if _text(item.get("Application")) == "Queue" and call.queue is None:
                call.queue = (_text(item.get("ApplicationData")) or "").split(",")[0] or None
                call.joined_queue = call.queue is not None
            bridge = _text(item.get("BridgeId"))
            if bridge:
                bridged.setdefault(bridge, []).append(channel)
        for uid, channel in call.channels.items():
            if uid not in live_uids:
                channel.hung_up = True
        for members in bridged.values():
            agents = [c for c in members if call.role(c) == AGENT]
            if agents and any(call.role(c) == CUSTOMER for c in members):
                call.bridged_at = call.bridged_at or at
                call.answered_at = call.answered_at or at
                if call.agent_pair is None:
                    call.agent = call.agent or interface_of(agents[0].name)
                    call.agent_pair = agents[0].pair
                call.connected = call.connected or call.joined_queue

    # -- records --------------------------------------------------------------------------

    def _outcome(self, call: _Call) -> str | None:
        if call.ended_at is None:
            return None
        if call.abandoned:
            return "abandoned"
        if call.connected:
            return "answered"
        if call.direction() == "outbound":
            if call.customer_dial_status:
                return DIAL_OUTCOMES.get(call.customer_dial_status, "failed")
            if call.originate_reason is not None and (
                call.originate_reason != 4 or call.agent_pair is None
            ):
                return ORIGINATE_OUTCOMES.get(call.originate_reason, "failed")
            return "answered" if call.bridged_at else "failed"
        if call.bridged_at or call.agent:
            return "answered"
        if call.joined_queue:
            return "no_answer"  # left the queue unanswered without abandoning: timed out
        status = call.agent_dial_status
        if status in (None, "CANCEL"):
            return "abandoned"
        return DIAL_OUTCOMES.get(status, "failed")

    def _hung_up_by(self, call: _Call, outcome: str | None) -> str | None:
        if outcome == "abandoned":
            return CUSTOMER
        if outcome != "answered":
            return None
        if call.complete_reason == "agent":
            return AGENT
        if call.complete_reason == "caller":
            return CUSTOMER
        return call.first_hangup_side

    def _hangup_cause(self, call: _Call) -> int | None:
        customer = call.channels.get(call.customer_uid or "")
        if customer is None:
            return None
        if customer.cause:
            return customer.cause
        twin = next(
            (c.cause for c in call.channels.values() if c.pair == customer.pair and c.cause), None
        )
        return twin if twin is not None else customer.cause

    def _record(self, call: _Call) -> CallRecord:
        outcome = self._outcome(call)
        return CallRecord(
            linkedid=call.linkedid,
            direction=call.direction(),
            started_at=call.started_at,
            uniqueid=call.customer_uid,
            caller=call.caller,
            dialed=call.dialed,
            customer_number=call.outside_number(),
            queue=call.queue,
            agents_rung=tuple(call.agents_rung),
            agent=call.agent,
            agent_extension=self.agents.extension_of(call.agent) if call.agent else None,
            outcome=outcome,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            queued_at=call.queued_at,
            wait_seconds=call.wait_seconds,
            ring_seconds=call.ring_seconds,
            talk_seconds=call.talk_seconds,
            hung_up_by=self._hung_up_by(call, outcome),
            hangup_cause=self._hangup_cause(call) if call.ended_at else None,
            recording=call.recording,
            recording_agent=call.recording_agent,
            recording_customer=call.recording_customer,
            attempt_id=call.attempt_id,
            end_inferred=call.end_inferred,
        )


def _duration(value: Any) -> timedelta:
    match = _DURATION_RE.match(_text(value) or "")
    if not match:
        return timedelta(0)
    hours, minutes, seconds = (int(g) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)
