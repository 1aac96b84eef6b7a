"""What a PJSIP endpoint does when the PBX calls it: an agent's phone rings and answers after
its delay (or never), an outside number reached through the trunk answers, is busy,
congested or unreachable. The configuration says which; the call's plan may override it.

A Local channel has no device here: its far half runs the dialplan (`interpreter.py`).
"""

from __future__ import annotations

from enum import StrEnum
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, NamedTuple

from telephony.ami.vocabulary import (
    CdrDisposition,
    DeviceState,
    DialStatus,
    HangupCause,
    OriginateReason,
)
from telephony.pbx_sim.channels import Channel, FarEnd

if TYPE_CHECKING:
    from telephony.pbx_sim.pbx import Pbx
    from telephony.pbx_sim.scenario import CallPlan


class Reaction(StrEnum):
    """What the far end does with the call."""

    ANSWER = "answer"
    NO_ANSWER = "noanswer"
    BUSY = "busy"
    CONGESTION = "congestion"
    UNREACHABLE = "unreachable"


class Failure(NamedTuple):
    """How each part of Asterisk tells of a call that failed this way."""

    dial_status: DialStatus
    cause: HangupCause
    originate_reason: OriginateReason
    disposition: CdrDisposition
    far: FarEnd | None  # what the far end answered (None: it said nothing, it just rang)


NETWORK_ANSWER = 0.5  # how long the trunk takes to say busy / congested / unreachable
FAILURES = {
    Reaction.BUSY: Failure(
        DialStatus.BUSY,
        HangupCause.USER_BUSY,
        OriginateReason.BUSY,
        CdrDisposition.BUSY,
        FarEnd.BUSY,
    ),
    Reaction.CONGESTION: Failure(
        DialStatus.CONGESTION,
        HangupCause.NORMAL_CIRCUIT_CONGESTION,
        OriginateReason.CONGESTION,
        CdrDisposition.CONGESTION,
        FarEnd.CONGESTION,
    ),
    Reaction.UNREACHABLE: Failure(
        DialStatus.CHANUNAVAIL,
        HangupCause.SUBSCRIBER_ABSENT,
        OriginateReason.HANGUP,
        CdrDisposition.FAILED,
        FarEnd.UNAVAILABLE,
    ),
    Reaction.NO_ANSWER: Failure(
        DialStatus.NOANSWER,
        HangupCause.NO_ANSWER,
        OriginateReason.RINGING,
        CdrDisposition.NO_ANSWER,
        None,
    ),
}
FAR_STATUS = {f.far: f.dial_status for f in FAILURES.values() if f.far is not None}
FAR_REASON = {f.far: f.originate_reason for f in FAILURES.values() if f.far is not None}
DISPOSITIONS = {
    DialStatus.ANSWER: CdrDisposition.ANSWERED,
    DialStatus.CANCEL: CdrDisposition.NO_ANSWER,
} | {f.dial_status: f.disposition for f in FAILURES.values()}


def number_outcome(pbx: Pbx, number: str) -> Reaction:
    """What the trunk does with an outside number (fnmatch patterns in the config)."""
    config = pbx.config
    for outcome, patterns in (
        (Reaction.BUSY, config.busy_numbers),
        (Reaction.CONGESTION, config.congestion_numbers),
        (Reaction.UNREACHABLE, config.unreachable_numbers),
        (Reaction.NO_ANSWER, config.no_answer_numbers),
    ):
        if any(fnmatchcase(number, pattern) for pattern in patterns):
            return outcome
    return Reaction.ANSWER


# A phone in one of these states is on a call: one call at a time (a PJSIP phone is BUSY:
# technology.py).
ON_A_CALL = frozenset({DeviceState.INUSE, DeviceState.RINGING, DeviceState.BUSY})


def phone_outcome(pbx: Pbx, extension: str, plan: CallPlan) -> tuple[Reaction, float | None]:
    """What an agent's phone does when called, and after how long it answers."""
    if extension in pbx.config.unregistered_extensions:
        return Reaction.UNREACHABLE, None
    if pbx.device_state(pbx.agent_interface(extension)) in ON_A_CALL:
        return Reaction.BUSY, None
    configured = number_outcome(pbx, extension)  # e.g. an extension listed as congested
    if configured is not Reaction.ANSWER:
        return configured, None
    delay = pbx.answer_delay(extension)
    if delay is None or plan.nobody_answers:
        return Reaction.NO_ANSWER, None
    return Reaction.ANSWER, plan.answer_after if plan.answer_after is not None else delay


def trunk_outcome(pbx: Pbx, number: str) -> tuple[Reaction, float | None]:
    """What an outside number reached through the trunk does, and when it answers."""
    outcome = number_outcome(pbx, number)
    return outcome, pbx.config.customer_answer_delay if outcome is Reaction.ANSWER else None


async def run_device(pbx: Pbx, leg: Channel, outcome: Reaction, delay: float | None) -> None:
    """The endpoint's answers, in time: 180 Ringing at once, 200 OK after `delay`; or a
    486/503/404 after the network's delay. Stops when the PBX hangs the leg up."""
    call = leg.call
    assert call is not None
    if outcome in (Reaction.BUSY, Reaction.CONGESTION, Reaction.UNREACHABLE):
        await pbx.clock.sleep(NETWORK_ANSWER)
        if not leg.hung_up:
            failure = FAILURES[outcome]
            assert failure.far is not None
            pbx.far_failure(leg, failure.far, failure.cause)
        return
    pbx.indicate_ringing(leg)
    if outcome is not Reaction.ANSWER or delay is None:
        return  # rings until the PBX gives up
    await pbx.clock.sleep(delay)
    if not leg.hung_up:
        pbx.answer(leg)
