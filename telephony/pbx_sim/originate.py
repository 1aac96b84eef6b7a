"""Originate: ring a channel (an agent's phone, an outside number, a Local channel) and, once it
answers, run the dialplan at Context/Exten on it (or the Application), as main/pbx.c's
outgoing calls do. OriginateResponse says Success (Reason 4) as soon as that first channel
answers, whatever happens next; a refusal carries the dial string as Channel and
`Uniqueid: <unknown>`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.ami.vocabulary import DialStatus, HangupCause, OriginateReason
from telephony.pbx_sim.channels import FAR_FAILURES, Channel, FarEnd, event
from telephony.pbx_sim.devices import FAR_REASON, FAR_STATUS
from telephony.pbx_sim.interpreter import run_application, run_dialplan, start_far_half
from telephony.pbx_sim.legs import LegRequest, Requester, dial_string, open_leg, start_far_end
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.scenario import Call, CallPlan
from telephony.pbx_sim.wire import with_action_id


@dataclass
class OriginateRequest:
    """An Originate action (or its Python equivalent); `timeout` in simulated seconds."""

    channel: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    caller_number: str = ""
    caller_name: str = ""
    variables: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 30.0
    action_id: str = ""
    application: str = ""
    app_data: str = ""
    announce: bool = True  # Async: an OriginateResponse event tells the outcome
    channel_id: str = ""  # ChannelId: the new channel's Uniqueid (and so its Linkedid)
    other_channel_id: str = ""  # OtherChannelId: a Local channel's `;2`'s


@dataclass(frozen=True)
class OriginateOutcome:
    success: bool
    reason: OriginateReason
    channel: str
    uniqueid: str


def start_originate(
    pbx: Pbx, request: OriginateRequest, plan: CallPlan
) -> asyncio.Future[OriginateOutcome]:
    """Place an originated call; the future resolves when Asterisk would answer the action."""
    outcome: asyncio.Future[OriginateOutcome] = asyncio.get_running_loop().create_future()
    pbx.spawn(_originate(pbx, request, Call(pbx, plan), outcome))
    return outcome


def _responder(
    pbx: Pbx, request: OriginateRequest, result: asyncio.Future[OriginateOutcome]
) -> Callable[[bool, OriginateReason, Channel | None], None]:
    def respond(success: bool, reason: OriginateReason, channel: Channel | None = None) -> None:
        if result.done():
            return
        outcome = OriginateOutcome(
            success,
            reason,
            channel.name if success and channel is not None else request.channel,
            channel.uniqueid if success and channel is not None else "<unknown>",
        )
        result.set_result(outcome)
        if request.announce:
            pbx.emit(event(
                "OriginateResponse",
                with_action_id(request.action_id),
                [("Response", "Success" if success else "Failure"), ("Channel", outcome.channel),
                 ("Context", request.context), ("Exten", request.exten),
                 ("Reason", str(reason)), ("Uniqueid", outcome.uniqueid),
                 ("CallerIDNum", request.caller_number or "<unknown>"),
                 ("CallerIDName", request.caller_name or "<unknown>")],
            ))  # fmt: skip

    return respond


async def _originate(
    pbx: Pbx, request: OriginateRequest, call: Call, result: asyncio.Future[OriginateOutcome]
) -> None:
    respond = _responder(pbx, request, result)
    caller_id = (request.caller_number, request.caller_name)
    try:
        leg = open_leg(
            pbx,
            LegRequest(
                interface=request.channel,
                call=call,
                linkedid=None,
                app=Requester.ORIGINATE,
                caller=caller_id if any(caller_id) else None,  # without CallerID, none
                connected=caller_id if any(caller_id) else None,
                variables=request.variables,
                channel_id=request.channel_id,
                other_channel_id=request.other_channel_id,
            ),
        )
        if leg is None:  # unknown technology, endpoint or extension: no channel at all
            respond(False, OriginateReason.FAILURE, None)
            return
        pbx.dial_event("DialBegin", None, leg, [("DialString", dial_string(request.channel))])
        start_far_end(pbx, leg, start_far_half)
        if not await _answered(pbx, call, request, leg, respond):
            return
        pbx.dial_event("DialEnd", None, leg, [("DialStatus", DialStatus.ANSWER)])
        respond(True, OriginateReason.ANSWER, leg)
        if request.application:
            leg.in_dialplan = True
            await run_application(pbx, leg, request.application, request.app_data)
            pbx.end_dialplan(leg)
        else:
            await run_dialplan(pbx, leg, request.context, request.exten, request.priority)
    finally:
        if not result.done():
            result.cancel()


async def _answered(
    pbx: Pbx,
    call: Call,
    request: OriginateRequest,
    leg: Channel,
    respond: Callable[[bool, OriginateReason, Channel | None], None],
) -> bool:
    """Wait for the first channel's answer; False (after the failure events) otherwise."""
    deadline = pbx.clock.now() + request.timeout

    def failed(status: DialStatus, reason: OriginateReason, cause: int) -> bool:
        pbx.dial_event("DialEnd", None, leg, [("DialStatus", status)])
        respond(False, reason, None)
        pbx.hangup(leg, cause)
        return False

    rung = False
    while True:
        if leg.rang and not rung:
            rung = True
            pbx.dial_event("DialState", None, leg, [("DialStatus", DialStatus.RINGING)])
        if leg.far == FarEnd.ANSWERED:
            return True
        if leg.far in FAR_FAILURES:
            return failed(
                FAR_STATUS[leg.far], FAR_REASON[leg.far], leg.far_cause or HangupCause.NOTDEFINED
            )
        if leg.hung_up:
            return failed(
                DialStatus.CANCEL,
                OriginateReason.HANGUP,
                leg.hangup_cause or HangupCause.NOTDEFINED,
            )
        now = pbx.clock.now()
        if now >= deadline:
            return failed(DialStatus.NOANSWER, OriginateReason.RINGING, HangupCause.NO_ANSWER)
        await call.pause(deadline - now)
