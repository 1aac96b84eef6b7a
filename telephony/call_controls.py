"""The agent console's call controls: hang up, hold and resume, mute, blind and consultative
transfer, three-way conference — AMI actions on a live call's channels, chosen from what the
tracker knows of the call now. Runs where the bridge runs (web processes ask it through
`telephony/pbx_requests.py`).

Which Asterisk 22 actions, with which fields (main/manager.c, res/res_mutestream.c):

- hang up: `Hangup` Channel=<the agent's channel> Cause=16.
- mute / unmute: `Setvar` Channel=<the agent's phone> Variable=`MUTEAUDIO(in)` Value=on|off
  (res_mutestream's function; its own MuteAudio action needs the `system` write class, which
  the server's manager user must not have).
- hold: `Redirect` Channel=<customer> Context=cc-hold Exten=<room> Priority=1, with
  ExtraChannel=<agent> ExtraContext=cc-room ExtraExten=<room> ExtraPriority=1 while the two
  are still in their own bridge (both must leave it, or the bridge dissolving would hang the
  other up): the customer hears hold music, the agent waits in the call's ConfBridge room.
- resume: `Redirect` Channel=<customer> Context=cc-room-customer Exten=<room> Priority=1.
- blind transfer: `BlindTransfer` Channel=<agent> Context=cc-transfer Exten=<target> while
  the two talk in their own bridge (Asterisk announces it: BlindTransfer); from hold or the
  room, `Redirect` of the customer to cc-transfer, then `Hangup` of the agent.
- consult (attended transfer): hold, then `Originate` Channel=Local/<target>@cc-transfer/n
  Context=cc-room Exten=<room> ChannelId=<id> OtherChannelId=<id>;2 Async=true: the colleague
  or outside party joins the agent in the room. Complete: the customer is Redirected into the
  room, then the agent hung up. Cancel: the added leg is hung up and the customer Redirected
  back to the agent.
- three-way conference: the customer and the agent Redirected into the room (ExtraChannel),
  and the third party Originated into it as for a consult; from a consult, the customer
  joins the room.

The call stays one call: the added legs carry the call's ChannelId as their linkedid, which
the tracker is told of beforehand (`expect_joining`), and the tracker follows who talks with
the customer (`CallTracker.parties`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from telephony import contract
from telephony.ami.client import AmiActionFailed, AmiError
from telephony.bridge import Bridge
from telephony.tracker import CallParties, Party, PartyLeg

NORMAL_CLEARING = "16"
# How long an added party's Local channel may wait to be answered: longer than the dialplan's
# own Dial timeout and queue wait, so that cc-transfer decides.
ADDED_PARTY_TIMEOUT_MS = 90_000
CONFIRM_SECONDS = 5.0  # how long an action's effect may take to show in the events
_POLL_SECONDS = 0.05
_EXTENSION = re.compile(r"^\d{2,8}$")
_QUEUE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_NUMBER = re.compile(r"^\d{5,20}$")


class ControlKind(StrEnum):
    HANGUP = "hangup"
    HOLD = "hold"
    RESUME = "resume"
    MUTE = "mute"
    UNMUTE = "unmute"
    TRANSFER = "transfer"  # blind
    CONSULT = "consult"  # the first step of an attended transfer
    COMPLETE = "complete"  # the attended transfer's end: the customer goes to the party
    CANCEL = "cancel"  # the added party leaves; the customer is back with the agent
    CONFERENCE = "conference"  # three-way


class TargetKind(StrEnum):
    EXTENSION = "extension"
    QUEUE = "queue"
    NUMBER = "number"


class CallPhase(StrEnum):
    RINGING = "ringing"  # not answered yet
    TALKING = "talking"
    HELD = "held"
    CONSULTING = "consulting"  # the customer on hold, the agent with an added party
    CONFERENCE = "conference"  # the customer, the agent and an added party together
    ENDED = "ended"  # the call, or this agent's part in it, is over (or the customer left)


class Refusal(StrEnum):
    """Why a control was not carried out (the web layer maps each to its HTTP status)."""

    NO_LIVE_CALL = "no_live_call"
    CALL_ENDED = "call_ended"
    NOT_ON_CALL = "not_on_call"
    NOT_NOW = "not_now"  # the call's state does not allow this control
    NEEDS_TARGET = "needs_target"
    PBX_UNAVAILABLE = "pbx_unavailable"
    PBX_REFUSED = "pbx_refused"


class ControlRefused(Exception):
    def __init__(self, refusal: Refusal, message: str) -> None:
        super().__init__(message)
        self.refusal = refusal
        self.message = message


@dataclass(frozen=True, slots=True)
class TransferTarget:
    """Where a transfer or an added party goes, already checked and normalised by the caller
    (crm.phones for numbers); checked again here, as it becomes a dialplan extension."""

    kind: TargetKind
    value: str

    def __post_init__(self) -> None:
        pattern = {
            TargetKind.EXTENSION: _EXTENSION,
            TargetKind.QUEUE: _QUEUE,
            TargetKind.NUMBER: _NUMBER,
        }[self.kind]
        if not pattern.fullmatch(self.value):
            raise ValueError(f"not a {self.kind.value}: {self.value!r}")

    @property
    def exten(self) -> str:
        """Its extension in cc-transfer."""
        if self.kind is TargetKind.QUEUE:
            return contract.TRANSFER_QUEUE_PREFIX + self.value
        return self.value


@dataclass(frozen=True, slots=True)
class ControlRequest:
    linkedid: str
    control: ControlKind
    # The acting agent's extension; None: whoever is the agent on the call (a supervisor).
    extension: str | None = None
    target: TransferTarget | None = None
    caller_id: str | None = None  # what an added party's phone shows


@dataclass(frozen=True, slots=True)
class ControlState:
    linkedid: str
    phase: CallPhase
    agent_extension: str | None
    muted: bool
    added_party: str | None  # a consult's or conference's added party (extension or number)
    allowed: tuple[ControlKind, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "phase": self.phase.value,
            "agent_extension": self.agent_extension,
            "muted": self.muted,
            "added_party": self.added_party,
            "allowed": [kind.value for kind in self.allowed],
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> ControlState:
        return cls(
            linkedid=str(data["linkedid"]),
            phase=CallPhase(data["phase"]),
            agent_extension=data.get("agent_extension"),
            muted=bool(data.get("muted")),
            added_party=data.get("added_party"),
            allowed=tuple(ControlKind(k) for k in data.get("allowed", ())),
        )


ALLOWED: dict[CallPhase, tuple[ControlKind, ...]] = {
    CallPhase.RINGING: (),
    CallPhase.TALKING: (
        ControlKind.HANGUP, ControlKind.HOLD, ControlKind.TRANSFER, ControlKind.CONSULT,
        ControlKind.CONFERENCE,
    ),
    CallPhase.HELD: (
        ControlKind.HANGUP, ControlKind.RESUME, ControlKind.TRANSFER, ControlKind.CONSULT,
        ControlKind.CONFERENCE,
    ),
    CallPhase.CONSULTING: (
        ControlKind.HANGUP, ControlKind.COMPLETE, ControlKind.CANCEL, ControlKind.CONFERENCE,
    ),
    CallPhase.CONFERENCE: (ControlKind.HANGUP, ControlKind.CANCEL),
    CallPhase.ENDED: (ControlKind.HANGUP,),  # the customer left; the agent's leg may linger
}  # fmt: skip
MUTABLE = frozenset({CallPhase.TALKING, CallPhase.HELD, CallPhase.CONSULTING, CallPhase.CONFERENCE})


@dataclass(frozen=True, slots=True)
class _View:
    """A call as the controls see it: its parties, the acting agent's legs, its phase."""

    parties: CallParties
    extension: str  # the acting agent's
    leg: PartyLeg  # the agent's channel on the call (bridged with the customer or in the room)
    phone: PartyLeg  # the agent's phone (what mute acts on)
    added: tuple[PartyLeg, ...]  # the added legs' first halves
    added_party: str | None
    phase: CallPhase

    @property
    def room(self) -> str:
        return self.parties.linkedid


class CallControls:
    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self._muted: set[str] = set()  # agents' phone channels muted by the controls
        self._added: dict[str, str] = {}  # linkedid → the added party (what was dialled)

    # -- what the console asks --------------------------------------------------------------

    def state(self, linkedid: str, extension: str | None) -> ControlState:
        return self._state(self._view(linkedid, extension))

    async def apply(self, request: ControlRequest) -> ControlState:
        """Carry out one control; ControlRefused says why not."""
        if not self.bridge.client.connected:
            raise ControlRefused(Refusal.PBX_UNAVAILABLE, "the PBX is not connected")
        view = self._view(request.linkedid, request.extension)
        allowed = self._allowed(view)
        if request.control not in allowed:
            raise ControlRefused(
                Refusal.NOT_NOW,
                f"cannot {request.control.value} a call that is {view.phase.value}",
            )
        needs_target = request.control in (ControlKind.TRANSFER, ControlKind.CONSULT) or (
            request.control is ControlKind.CONFERENCE and view.phase is not CallPhase.CONSULTING
        )
        if needs_target and request.target is None:
            raise ControlRefused(Refusal.NEEDS_TARGET, f"{request.control.value} needs a target")
        try:
            await self._carry_out(request, view)
        except AmiActionFailed as exc:
            raise ControlRefused(Refusal.PBX_REFUSED, str(exc)) from None
        except AmiError as exc:
            raise ControlRefused(Refusal.PBX_UNAVAILABLE, str(exc)) from None
        try:
            return self.state(request.linkedid, request.extension)
        except ControlRefused:  # hung up: the call (or the agent's part of it) is over
            return ControlState(request.linkedid, CallPhase.ENDED, view.extension, False, None, ())

    # -- reading the call -------------------------------------------------------------------

    def _view(self, linkedid: str, extension: str | None) -> _View:
        tracker = self.bridge.tracker
        parties = tracker.parties(linkedid)
        if parties is None:
            if tracker.ended(linkedid):
                raise ControlRefused(Refusal.CALL_ENDED, "the call has ended")
            raise ControlRefused(Refusal.NO_LIVE_CALL, "no such live call")
        wanted = extension or parties.agent_extension
        if wanted is None:
            raise ControlRefused(Refusal.NOT_ON_CALL, "no agent is on this call now")
        # The agent's own channels, and an added Local leg that reached them (a colleague
        # consulted or conferenced in acts through the leg that joined the room).
        mine = [
            leg for leg in parties.legs
            if wanted in (leg.extension, leg.reaches) and leg.first_half
        ]  # fmt: skip
        if not any(leg.role == Party.AGENT for leg in mine):
            raise ControlRefused(Refusal.NOT_ON_CALL, f"extension {wanted} is not on this call")
        leg = min(
            mine,
            key=lambda m: (
                not m.with_customer, not m.beside_customer, not m.in_room, m.local, m.channel
            ),
        )  # fmt: skip
        phone = next((m for m in mine if m.role == Party.AGENT and not m.local), leg)
        added = tuple(
            a
            for a in parties.legs
            if a.joined and a.role == Party.JOINED and a.first_half and a.reaches != wanted
        )
        if not parties.answered:
            phase = CallPhase.RINGING
        elif parties.customer is None:
            phase = CallPhase.ENDED
        elif any(a.with_customer for a in added):
            phase = CallPhase.CONFERENCE
        elif added:
            phase = CallPhase.CONSULTING
        elif parties.on_hold or not parties.customer_bridged:
            phase = CallPhase.HELD
        else:
            phase = CallPhase.TALKING
        party = self._added.get(linkedid) if added else None
        return _View(parties, wanted, leg, phone, added, party, phase)

    def _allowed(self, view: _View) -> tuple[ControlKind, ...]:
        allowed = ALLOWED[view.phase]
        if view.phase not in MUTABLE:
            return allowed
        muted = view.phone.channel in self._muted
        return (*allowed, ControlKind.UNMUTE if muted else ControlKind.MUTE)

    def _state(self, view: _View) -> ControlState:
        self._forget_gone()
        return ControlState(
            linkedid=view.parties.linkedid,
            phase=view.phase,
            agent_extension=view.extension,
            muted=view.phone.channel in self._muted,
            added_party=view.added_party,
            allowed=self._allowed(view),
        )

    def _forget_gone(self) -> None:
        """What the controls noted of calls and channels that are gone (a muted phone's next
        call has a channel of its own)."""
        if not self._muted and not self._added:
            return
        live_calls: set[str] = set()
        live_channels: set[str] = set()
        for record in self.bridge.tracker.live_calls():
            parties = self.bridge.tracker.parties(record.linkedid)
            if parties is not None:
                live_calls.add(record.linkedid)
                live_channels.update(leg.channel for leg in parties.legs)
        self._muted &= live_channels
        self._added = {k: v for k, v in self._added.items() if k in live_calls}

    # -- carrying out -------------------------------------------------------------------------

    async def _carry_out(self, request: ControlRequest, view: _View) -> None:
        control = request.control
        if control is ControlKind.HANGUP:
            await self._leave(view)
        elif control in (ControlKind.MUTE, ControlKind.UNMUTE):
            await self._mute(view.phone.channel, control is ControlKind.MUTE)
        elif control is ControlKind.HOLD:
            await self._hold(view)
        elif control is ControlKind.RESUME:
            await self._to_room(view)
        elif control is ControlKind.TRANSFER:
            assert request.target is not None
            await self._blind_transfer(view, request.target)
        elif control is ControlKind.CONSULT:
            assert request.target is not None
            if view.phase is CallPhase.TALKING:
                await self._hold(view)
            await self._add_party(view, request.target, request.caller_id)
        elif control is ControlKind.COMPLETE:
            await self._complete(view)
        elif control is ControlKind.CANCEL:
            await self._cancel(view)
        elif control is ControlKind.CONFERENCE:
            await self._conference(view, request)

    async def _send(self, action: dict[str, str]) -> None:
        await self.bridge.client.send_checked(action)

    async def _hangup(self, channel: str) -> None:
        await self._send({"Action": "Hangup", "Channel": channel, "Cause": NORMAL_CLEARING})

    async def _mute(self, phone: str, mute: bool) -> None:
        await self._send(
            {"Action": "Setvar", "Channel": phone, "Variable": "MUTEAUDIO(in)",
             "Value": "on" if mute else "off"}
        )  # fmt: skip
        if mute:
            self._muted.add(phone)
        else:
            self._muted.discard(phone)

    @staticmethod
    def _redirect(channel: str, context: str, exten: str) -> dict[str, str]:
        return {"Action": "Redirect", "Channel": channel, "Context": context, "Exten": exten,
                "Priority": "1"}  # fmt: skip

    def _customer_to(self, view: _View, context: str, *, with_agent: bool) -> dict[str, str]:
        """Redirect the customer to context,<room>; `with_agent`: the agent to the room too,
        unless there already (both must leave their bridge, or its end would hang one up)."""
        customer = view.parties.customer
        assert customer is not None
        action = self._redirect(customer, context, view.room)
        if with_agent and not view.leg.in_room:
            action.update(
                {"ExtraChannel": view.leg.channel, "ExtraContext": contract.CONTEXT_ROOM,
                 "ExtraExten": view.room, "ExtraPriority": "1"}
            )  # fmt: skip
        return action

    async def _hold(self, view: _View) -> None:
        await self._send(self._customer_to(view, contract.CONTEXT_HOLD, with_agent=True))
        await self._until(view.room, lambda p: p.on_hold)

    async def _to_room(self, view: _View, *, with_agent: bool = False) -> None:
        """The customer joins the call's room (and, `with_agent`, the agent too)."""
        action = self._customer_to(view, contract.CONTEXT_ROOM_CUSTOMER, with_agent=with_agent)
        await self._send(action)
        await self._until(view.room, lambda p: p.customer_in_room)

    async def _blind_transfer(self, view: _View, target: TransferTarget) -> None:
        if view.phase is CallPhase.TALKING and not view.parties.customer_in_room:
            await self._send(
                {"Action": "BlindTransfer", "Channel": view.leg.channel,
                 "Context": contract.CONTEXT_TRANSFER, "Exten": target.exten}
            )  # fmt: skip
            await self._gone(view)  # Asterisk hangs the transferer up
            return
        # Held, or in the room: Asterisk would transfer the whole room, so the customer is
        # sent on by hand and the agent leaves.
        customer = view.parties.customer
        assert customer is not None
        self.bridge.tracker.note_transfer(view.room)
        await self._send(self._redirect(customer, contract.CONTEXT_TRANSFER, target.exten))
        await self._leave(view)

    async def _add_party(self, view: _View, target: TransferTarget, caller_id: str | None) -> None:
        """Originate the target into the call's room, as a leg of this call."""
        channel_id = f"cc-{uuid.uuid4().hex}"
        action_id = self.bridge.client.new_action_id("originate")
        self.bridge.tracker.expect_joining(action_id, uniqueid=channel_id, linkedid=view.room)
        action = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": f"Local/{target.exten}@{contract.CONTEXT_TRANSFER}/n",
            "Context": contract.CONTEXT_ROOM,
            "Exten": view.room,
            "Priority": "1",
            "Timeout": str(ADDED_PARTY_TIMEOUT_MS),
            "ChannelId": channel_id,
            "OtherChannelId": f"{channel_id};2",
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = caller_id
        await self._send(action)
        self._added[view.room] = target.value

    async def _complete(self, view: _View) -> None:
        if not any(leg.bridged for leg in view.added):
            raise ControlRefused(Refusal.NOT_NOW, "the consulted party has not answered yet")
        await self._to_room(view)
        if not any(
            leg.role == Party.AGENT and leg.with_customer and leg.extension != view.extension
            for leg in self._parties(view.room).legs
        ):  # an outside party: the call goes on with them, as after a transfer
            self.bridge.tracker.note_transfer(view.room)
        await self._leave(view)

    async def _leave(self, view: _View) -> None:
        """Hang the agent's channel up, and wait until the PBX says it is gone."""
        await self._hangup(view.leg.channel)
        await self._gone(view)

    async def _gone(self, view: _View) -> None:
        await self._until(
            view.room, lambda p: all(leg.channel != view.leg.channel for leg in p.legs)
        )

    async def _cancel(self, view: _View) -> None:
        for leg in view.added:
            # Gone meanwhile (it hung up or failed): cancelled all the same.
            with contextlib.suppress(AmiActionFailed):
                await self._hangup(leg.channel)
        self._added.pop(view.room, None)
        if view.phase is CallPhase.CONSULTING:
            await self._to_room(view)

    async def _conference(self, view: _View, request: ControlRequest) -> None:
        if view.phase is CallPhase.CONSULTING:
            await self._to_room(view)
            return
        assert request.target is not None
        await self._to_room(view, with_agent=True)
        await self._add_party(view, request.target, request.caller_id)

    # -- waiting for the PBX's word ---------------------------------------------------------------

    def _parties(self, linkedid: str) -> CallParties:
        parties = self.bridge.tracker.parties(linkedid)
        if parties is None:
            raise ControlRefused(Refusal.CALL_ENDED, "the call has ended")
        return parties

    async def _until(self, linkedid: str, done: Any) -> None:
        """Wait (bounded) until the tracker shows the action's effect; the state returned
        afterwards says how far it got."""
        for _ in range(int(CONFIRM_SECONDS / _POLL_SECONDS)):
            parties = self.bridge.tracker.parties(linkedid)
            if parties is None or done(parties):
                return
            await asyncio.sleep(_POLL_SECONDS)
