"""Originate: ring a phone or an outside number, then run the dialplan where the action said
(agent-first callbacks, customer-first callbacks into the callbacks queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.contract import CALL_TYPE_CALLBACK, VAR_CALL_TYPE, VAR_CUSTOMER_NUMBER
from telephony.pbx_sim.channels import NORMAL_CLEARING, RINGING, UP, Channel, event
from telephony.pbx_sim.dialing import dial, dial_and_talk, dial_extension, phone_outcome
from telephony.pbx_sim.pbx import (
    ANSWER,
    BUSY_OUTCOME,
    CONGESTION_OUTCOME,
    NO_ANSWER_OUTCOME,
    UNREACHABLE,
    Pbx,
)
from telephony.pbx_sim.queue_calls import queue_call
from telephony.pbx_sim.scenario import (
    FAILURES,
    NETWORK_ANSWER,
    Call,
    CallPlan,
    Dialplan,
    single_cdr,
)
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


@dataclass(frozen=True)
class OriginateOutcome:
    success: bool
    reason: int  # 0 failed, 1 hung up, 3 no answer, 4 answered, 5 busy, 8 congestion
    channel: str
    uniqueid: str


def start_originate(
    pbx: Pbx, request: OriginateRequest, plan: CallPlan
) -> asyncio.Future[OriginateOutcome]:
    """Place an originated call; the future resolves when Asterisk would answer the action."""
    outcome: asyncio.Future[OriginateOutcome] = asyncio.get_running_loop().create_future()
    pbx.spawn(_originate(pbx, request, Call(pbx, plan), outcome))
    return outcome


async def _originate(
    pbx: Pbx, request: OriginateRequest, call: Call, result: asyncio.Future[OriginateOutcome]
) -> None:
    config = pbx.config

    def respond(success: bool, reason: int, channel: Channel | None = None) -> None:
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

    delay: float | None
    try:
        tech, _, resource = request.channel.partition("/")
        number, at, host = resource.partition("@")
        if tech == "PJSIP" and at and host == config.trunk_endpoint and number:
            interface, dial_string, context = f"PJSIP/{host}", resource, config.inbound_context
            outcome, delay = pbx.number_outcome(number), config.customer_answer_delay
            trunk_leg = True
        elif tech == "PJSIP" and not at and pbx.is_agent_extension(number):
            interface, dial_string, context = request.channel, number, config.agent_context
            outcome, delay = phone_outcome(pbx, number, call.plan)
            trunk_leg = False
            if outcome == UNREACHABLE:  # no contact registered: the request itself fails
                respond(False, 0)
                return
        else:  # unknown technology or endpoint: no channel is ever created
            respond(False, 0)
            return
        channel = await _first_leg(
            pbx, call, request, interface, dial_string, context, outcome, delay, respond
        )
        if channel is None:
            return
        await _after_answer(pbx, call, request, channel, respond, trunk_leg=trunk_leg)
    finally:
        if not result.done():
            result.cancel()


async def _first_leg(
    pbx: Pbx,
    call: Call,
    request: OriginateRequest,
    interface: str,
    dial_string: str,
    context: str,
    outcome: str,
    delay: float | None,
    respond: Callable[..., None],
) -> Channel | None:
    """Ring the originated channel; None (after the failure events) unless it answers."""
    channel = pbx.new_channel(interface, context=context, exten="s", linkedid=None, wake=call.wake)
    pbx.newexten(channel, "AppDial2", "(Outgoing Line)")
    for name, value in request.variables:
        pbx.set_var(channel, name, value)
    pbx.set_caller(channel, request.caller_number, request.caller_name)
    pbx.set_connected(channel, request.caller_number, request.caller_name)
    pbx.dial_event("DialBegin", None, channel, [("DialString", dial_string)])
    started = pbx.clock.now()

    def failed(status: str, cause: int, reason: int) -> None:
        pbx.dial_event("DialEnd", None, channel, [("DialStatus", status)])
        respond(False, reason)
        pbx.hangup(channel, cause)

    if outcome in (BUSY_OUTCOME, CONGESTION_OUTCOME, UNREACHABLE):
        await call.pause(NETWORK_ANSWER)
        status, cause, reason, _ = FAILURES[outcome]
        failed(status, cause, reason)
        return None
    pbx.set_state(channel, RINGING)
    answer_at = started + delay if outcome == ANSWER and delay is not None else None
    deadline = started + request.timeout
    while True:
        now = pbx.clock.now()
        if channel.hung_up:
            pbx.announce_hangup_request(channel)
            failed("CANCEL", channel.hangup_cause or NORMAL_CLEARING, 1)
            return None
        if answer_at is not None and now >= answer_at:
            break
        if now >= deadline:
            status, cause, reason, _ = FAILURES[NO_ANSWER_OUTCOME]
            failed(status, cause, reason)
            return None
        await call.pause(min(deadline, answer_at if answer_at is not None else deadline) - now)
    pbx.set_state(channel, UP)
    pbx.dial_event("DialEnd", None, channel, [("DialStatus", "ANSWER")])
    return channel


async def _after_answer(
    pbx: Pbx,
    call: Call,
    request: OriginateRequest,
    channel: Channel,
    respond: Callable[..., None],
    *,
    trunk_leg: bool,
) -> None:
    """The answered channel runs the dialplan at Context/Exten (or the Application)."""
    config = pbx.config
    dialplan = Dialplan(pbx, channel, request.context, request.exten)
    number = request.exten
    if request.application:
        dialplan.app(request.application, request.app_data)
        respond(True, 4, channel)
        await call.pause(1.0)
        dialplan.end([single_cdr(pbx, channel, request.application, request.app_data)])
    elif request.context == config.callback_context:  # agent first: the agent dials the customer
        dialplan.app("NoOp", f"Callback to {number}")
        dialplan.set(VAR_CALL_TYPE, CALL_TYPE_CALLBACK)
        dialplan.set(VAR_CUSTOMER_NUMBER, number)
        dialplan.record(call, CALL_TYPE_CALLBACK, number, customer_channel=trunk_leg)
        result = await dial(
            pbx, call, dialplan,
            interface=f"PJSIP/{config.trunk_endpoint}",
            dial_string=f"{number}@{config.trunk_endpoint}",
            context=config.inbound_context,
            outcome=pbx.number_outcome(number),
            answer_delay=config.customer_answer_delay,
            on_ringing=lambda: respond(True, 4, channel),
        )  # fmt: skip
        respond(True, 4, channel)
        await dial_and_talk(pbx, call, dialplan, result, caller_is_customer=trunk_leg)
    elif request.context == config.callback_queue_context:  # customer first: into the queue
        number = request.channel.split("/", 1)[1].split("@")[0]  # PJSIP/<number>@trunk
        dialplan.app("NoOp", f"Callback to {number}")
        dialplan.set(VAR_CALL_TYPE, CALL_TYPE_CALLBACK)
        respond(True, 4, channel)
        dialplan.set(VAR_CUSTOMER_NUMBER, number)
        dialplan.app("Set", f"CALLERID(num)={number}")
        pbx.set_caller(channel, number, number)
        dialplan.record(call, CALL_TYPE_CALLBACK, number, customer_channel=trunk_leg)
        await queue_call(pbx, call, dialplan, config.callback_queue)
    elif request.context == config.agent_context and pbx.is_agent_extension(number):
        respond(True, 4, channel)
        await dial_extension(pbx, call, dialplan, number)
    else:  # no such extension: the channel is answered, then hung up
        respond(True, 4, channel)
        dialplan.end([single_cdr(pbx, channel, "AppDial2", "(Outgoing Line)")])
