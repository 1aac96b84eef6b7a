"""Dial(): call one phone or outside number from a channel's dialplan, then talk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from telephony.pbx_sim.channels import (
    NO_ANSWER,
    NORMAL_CLEARING,
    RING,
    RINGING,
    UNKNOWN_CAUSE,
    UP,
    Channel,
)
from telephony.pbx_sim.pbx import (
    ANSWER,
    BUSY_OUTCOME,
    CONGESTION_OUTCOME,
    NO_ANSWER_OUTCOME,
    UNREACHABLE,
    Pbx,
)
from telephony.pbx_sim.queues import endpoint_of
from telephony.pbx_sim.scenario import (
    DISPOSITIONS,
    FAILURES,
    NETWORK_ANSWER,
    Call,
    CallPlan,
    Dialplan,
    seconds_text,
    talk,
)

DIAL_VARS = (
    "DIALSTATUS", "DIALEDPEERNUMBER", "DIALEDPEERNAME", "ANSWEREDTIME", "ANSWEREDTIME_MS",
    "DIALEDTIME", "DIALEDTIME_MS", "RINGTIME", "RINGTIME_MS", "PROGRESSTIME", "PROGRESSTIME_MS",
)  # fmt: skip


@dataclass
class DialResult:
    status: str  # ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL
    peer: Channel
    data: str  # Dial()'s argument, for the Cdr


async def dial(
    pbx: Pbx,
    call: Call,
    dialplan: Dialplan,
    *,
    interface: str,
    dial_string: str,
    context: str,
    outcome: str,
    answer_delay: float | None,
    on_ringing: Callable[[], None] | None = None,
) -> DialResult:
    """Dial(<target>,<timeout>) from the dialplan's channel; the peer is answered or gone."""
    caller, timeout = dialplan.channel, pbx.config.dial_timeout
    tech, _ = endpoint_of(interface)
    target = f"{tech}/{dial_string}"
    data = f"{target},{seconds_text(timeout)}"
    dialplan.app("Dial", data)
    for variable in DIAL_VARS:
        pbx.set_var(caller, variable, "")
    peer = pbx.new_channel(
        interface, context=context, exten="s", linkedid=caller.linkedid, wake=call.wake
    )
    pbx.set_var(peer, "DIALEDPEERNUMBER", dial_string)
    pbx.newexten(peer, "AppDial", "(Outgoing Line)")
    pbx.set_caller(peer, caller.caller_num, caller.caller_name)
    pbx.set_connected(peer, caller.caller_num, caller.caller_name)
    pbx.dial_event("DialBegin", caller, peer, [("DialString", dial_string)])
    started = pbx.clock.now()

    def failed(status: str, cause: int) -> DialResult:
        pbx.dial_event("DialEnd", caller, peer, [("DialStatus", status)])
        pbx.hangup(peer, cause)
        pbx.set_var(caller, "DIALSTATUS", status)
        return DialResult(status, peer, data)

    if outcome in (BUSY_OUTCOME, CONGESTION_OUTCOME, UNREACHABLE):
        await call.pause(NETWORK_ANSWER)
        if caller.hung_up:
            pbx.announce_hangup_request(caller)
            return failed("CANCEL", UNKNOWN_CAUSE)
        status, cause, _, _ = FAILURES[outcome]
        return failed(status, cause)
    pbx.set_state(peer, RINGING)
    if on_ringing is not None:
        on_ringing()
    pbx.set_var(caller, "RINGTIME", str(int(pbx.clock.now() - started)))
    pbx.set_var(caller, "RINGTIME_MS", str(int((pbx.clock.now() - started) * 1000)))
    pbx.dial_event("DialState", caller, peer, [("DialStatus", "RINGING")])
    if caller.state == RING:
        pbx.set_state(caller, RINGING)
    answer_at = started + answer_delay if outcome == ANSWER and answer_delay is not None else None
    deadline = started + timeout
    patience = call.plan.patience
    give_up = started + patience if patience is not None else None
    while True:
        now = pbx.clock.now()
        if give_up is not None and now >= give_up:
            caller.request_hangup(NORMAL_CLEARING)
        if caller.hung_up:
            pbx.announce_hangup_request(caller)
            return failed("CANCEL", UNKNOWN_CAUSE)
        if peer.hung_up:
            pbx.announce_hangup_request(peer)
            return failed("BUSY", peer.hangup_cause or NORMAL_CLEARING)
        if answer_at is not None and now >= answer_at:
            break
        if now >= deadline:
            return failed("NOANSWER", NO_ANSWER)
        wake_at = [deadline] + [t for t in (answer_at, give_up) if t is not None]
        await call.pause(min(wake_at) - now)
    pbx.set_state(peer, UP)
    for name, value in (
        ("DIALSTATUS", "ANSWER"),
        ("DIALEDPEERNAME", peer.name),
        ("DIALEDPEERNUMBER", dial_string),
    ):
        pbx.set_var(caller, name, value)
    pbx.dial_event("DialEnd", caller, peer, [("DialStatus", "ANSWER")])
    if caller.state != UP:
        pbx.set_state(caller, UP)
    return DialResult("ANSWER", peer, data)


async def dial_and_talk(
    pbx: Pbx, call: Call, dialplan: Dialplan, result: DialResult, *, caller_is_customer: bool
) -> None:
    """After Dial(): talk if answered, then end both channels as Asterisk would."""
    caller, peer = dialplan.channel, result.peer
    cdr = pbx.cdr(
        caller,
        dest=peer,
        disposition=DISPOSITIONS.get(result.status, "FAILED"),
        application="Dial",
        data=result.data,
    )
    if result.status == "CANCEL":
        pbx.hangup(caller, caller.hangup_cause or NORMAL_CLEARING, [cdr])
        return
    if result.status != "ANSWER":
        dialplan.end([cdr])
        return
    pbx.bridge(peer, caller)
    answered = pbx.clock.now()
    if call.recording is not None:
        pbx.recorder.begin(call.recording, answered)
    customer, agent = (caller, peer) if caller_is_customer else (peer, caller)
    ended = await talk(call, customer=customer, agent=agent)
    pbx.announce_hangup_request(ended)
    end = pbx.clock.now()
    if call.recording is not None:
        pbx.recorder.finish(call.recording, end)
    answered_vars = [
        ("ANSWEREDTIME", str(int(end - answered))),
        ("ANSWEREDTIME_MS", str(int((end - answered) * 1000))),
        ("DIALEDTIME", str(int(end - caller.created))),
        ("DIALEDTIME_MS", str(int((end - caller.created) * 1000))),
        ("DIALSTATUS", "ANSWER"),
    ]
    cdr = pbx.cdr(caller, dest=peer, disposition="ANSWERED", application="Dial", data=result.data)
    if ended is peer:
        pbx.leave_bridge(peer)
        pbx.hangup(peer, peer.hangup_cause or NORMAL_CLEARING)
        pbx.leave_bridge(caller)
        for name, value in answered_vars:
            pbx.set_var(caller, name, value)
        dialplan.end([cdr])
    else:
        pbx.leave_bridge(caller)
        pbx.hangup(caller, caller.hangup_cause or NORMAL_CLEARING, [cdr])
        pbx.leave_bridge(peer)
        pbx.hangup(peer, NORMAL_CLEARING)


def phone_outcome(pbx: Pbx, extension: str, plan: CallPlan) -> tuple[str, float | None]:
    """What an agent's phone does when called, and after how long it answers."""
    if extension in pbx.config.unregistered_extensions:
        return UNREACHABLE, None
    if pbx.device_state(pbx.agent_interface(extension)) in ("INUSE", "RINGING"):
        return BUSY_OUTCOME, None
    configured = pbx.number_outcome(extension)  # e.g. an extension listed as congested
    if configured != ANSWER:
        return configured, None
    delay = pbx.answer_delay(extension)
    if delay is None or plan.nobody_answers:
        return NO_ANSWER_OUTCOME, None
    return ANSWER, plan.answer_after if plan.answer_after is not None else delay


async def dial_extension(pbx: Pbx, call: Call, dialplan: Dialplan, extension: str) -> None:
    """Dial(PJSIP/<extension>,30) from a customer's channel, without a queue."""
    outcome, delay = phone_outcome(pbx, extension, call.plan)
    interface = pbx.agent_interface(extension)
    result = await dial(
        pbx,
        call,
        dialplan,
        interface=interface,
        dial_string=endpoint_of(interface)[1],
        context=pbx.config.agent_context,
        outcome=outcome,
        answer_delay=delay,
    )
    await dial_and_talk(pbx, call, dialplan, result, caller_is_customer=True)
