"""What a PJSIP endpoint does when the PBX calls it: an agent's phone rings and answers after
its delay (or never), an outside number reached through the trunk answers, is busy,
congested or unreachable. The configuration says which; the call's plan may override it.

A Local channel has no device here: its far half runs the dialplan (`interpreter.py`).
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from telephony.pbx_sim.channels import (
    CONGESTION,
    FAR_BUSY,
    FAR_CONGESTION,
    FAR_UNAVAILABLE,
    NO_ANSWER,
    SUBSCRIBER_ABSENT,
    USER_BUSY,
    Channel,
)

if TYPE_CHECKING:
    from telephony.pbx_sim.pbx import Pbx
    from telephony.pbx_sim.scenario import CallPlan

# What the far end does with the call.
ANSWER, NO_ANSWER_OUTCOME, BUSY_OUTCOME, CONGESTION_OUTCOME, UNREACHABLE = (
    "answer",
    "noanswer",
    "busy",
    "congestion",
    "unreachable",
)
NETWORK_ANSWER = 0.5  # how long the trunk takes to say busy / congested / unreachable
# A failed call: DialStatus, hangup cause, Originate reason, Cdr disposition, far-end answer.
FAILURES = {
    BUSY_OUTCOME: ("BUSY", USER_BUSY, 5, "BUSY", FAR_BUSY),
    CONGESTION_OUTCOME: ("CONGESTION", CONGESTION, 8, "CONGESTION", FAR_CONGESTION),
    UNREACHABLE: ("CHANUNAVAIL", SUBSCRIBER_ABSENT, 1, "FAILED", FAR_UNAVAILABLE),
    NO_ANSWER_OUTCOME: ("NOANSWER", NO_ANSWER, 3, "NO ANSWER", None),
}
FAR_STATUS = {far: status for status, _, _, _, far in FAILURES.values() if far is not None}
FAR_REASON = {far: reason for _, _, reason, _, far in FAILURES.values() if far is not None}
DISPOSITIONS = {"ANSWER": "ANSWERED", "CANCEL": "NO ANSWER"} | {
    status: disposition for status, _, _, disposition, _ in FAILURES.values()
}


def number_outcome(pbx: Pbx, number: str) -> str:
    """What the trunk does with an outside number (fnmatch patterns in the config)."""
    config = pbx.config
    for outcome, patterns in (
        (BUSY_OUTCOME, config.busy_numbers),
        (CONGESTION_OUTCOME, config.congestion_numbers),
        (UNREACHABLE, config.unreachable_numbers),
        (NO_ANSWER_OUTCOME, config.no_answer_numbers),
    ):
        if any(fnmatchcase(number, pattern) for pattern in patterns):
            return outcome
    return ANSWER


def phone_outcome(pbx: Pbx, extension: str, plan: CallPlan) -> tuple[str, float | None]:
    """What an agent's phone does when called, and after how long it answers."""
    if extension in pbx.config.unregistered_extensions:
        return UNREACHABLE, None
    if pbx.device_state(pbx.agent_interface(extension)) in ("INUSE", "RINGING", "BUSY"):
        return BUSY_OUTCOME, None  # one call at a time (a PJSIP phone is BUSY: technology.py)
    configured = number_outcome(pbx, extension)  # e.g. an extension listed as congested
    if configured != ANSWER:
        return configured, None
    delay = pbx.answer_delay(extension)
    if delay is None or plan.nobody_answers:
        return NO_ANSWER_OUTCOME, None
    return ANSWER, plan.answer_after if plan.answer_after is not None else delay


def trunk_outcome(pbx: Pbx, number: str) -> tuple[str, float | None]:
    """What an outside number reached through the trunk does, and when it answers."""
    outcome = number_outcome(pbx, number)
    return outcome, pbx.config.customer_answer_delay if outcome == ANSWER else None


async def run_device(pbx: Pbx, leg: Channel, outcome: str, delay: float | None) -> None:
    """The endpoint's answers, in time: 180 Ringing at once, 200 OK after `delay`; or a
    486/503/404 after the network's delay. Stops when the PBX hangs the leg up."""
    call = leg.call
    assert call is not None
    if outcome in (BUSY_OUTCOME, CONGESTION_OUTCOME, UNREACHABLE):
        await pbx.clock.sleep(NETWORK_ANSWER)
        if not leg.hung_up:
            _, cause, _, _, far = FAILURES[outcome]
            assert far is not None
            pbx.far_failure(leg, far, cause)
        return
    pbx.indicate_ringing(leg)
    if outcome != ANSWER or delay is None:
        return  # rings until the PBX gives up
    await pbx.clock.sleep(delay)
    if not leg.hung_up:
        pbx.answer(leg)
