"""What every call scenario is built from: the plan of the people in it, the call's wake-up
event, the dialplan runner, and the conversation between two bridged parties."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from telephony.contract import VAR_REC_AGENT, VAR_REC_CUSTOMER
from telephony.pbx_sim.channels import (
    CONGESTION,
    NO_ANSWER,
    NORMAL_CLEARING,
    SUBSCRIBER_ABSENT,
    USER_BUSY,
    Channel,
)
from telephony.pbx_sim.pbx import (
    BUSY_OUTCOME,
    CONGESTION_OUTCOME,
    NO_ANSWER_OUTCOME,
    UNREACHABLE,
    Pbx,
)
from telephony.pbx_sim.recordings import Recording
from telephony.pbx_sim.wire import Fields

NETWORK_ANSWER = 0.5  # how long the trunk takes to say busy / congested / unreachable
# What a failed dial looks like: DialStatus, hangup cause, Originate reason, Cdr disposition.
FAILURES = {
    BUSY_OUTCOME: ("BUSY", USER_BUSY, 5, "BUSY"),
    CONGESTION_OUTCOME: ("CONGESTION", CONGESTION, 8, "CONGESTION"),
    UNREACHABLE: ("CHANUNAVAIL", SUBSCRIBER_ABSENT, 1, "FAILED"),
    NO_ANSWER_OUTCOME: ("NOANSWER", NO_ANSWER, 3, "NO ANSWER"),
}
DISPOSITIONS = {"ANSWER": "ANSWERED", "CANCEL": "NO ANSWER"} | {
    status: disposition for status, _, _, disposition in FAILURES.values()
}


@dataclass
class CallPlan:
    """How the people in one call behave."""

    talk_seconds: float
    hangup_by: str  # "caller" (the customer) or "agent"
    answer_after: float | None = None  # overrides the phones' answer delay in this call
    patience: float | None = None  # the caller hangs up after waiting this long unanswered
    nobody_answers: bool = False  # phones ring but nobody picks up (an abandon)


def make_plan(
    pbx: Pbx,
    *,
    talk_seconds: float | None = None,
    hangup_by: str | None = None,
    answer_after: float | None = None,
    patience: float | None = None,
    nobody_answers: bool = False,
) -> CallPlan:
    """A plan with the missing parts drawn from the PBX's seeded random generator."""
    config, rng = pbx.config, pbx.rng
    if talk_seconds is None:
        talk_seconds = rng.uniform(*config.talk_seconds)
    if hangup_by is None:
        hangup_by = "caller" if rng.random() < config.caller_hangup_ratio else "agent"
    if hangup_by == "customer":  # the server's word for Asterisk's "caller"
        hangup_by = "caller"
    if hangup_by not in ("caller", "agent"):
        raise ValueError("hangup_by must be 'customer' (or 'caller') or 'agent'")
    return CallPlan(talk_seconds, hangup_by, answer_after, patience, nobody_answers)


class Call:
    """The channels of one call share a wake-up event: any hangup re-runs the scenario's checks."""

    def __init__(self, pbx: Pbx, plan: CallPlan) -> None:
        self.pbx = pbx
        self.plan = plan
        self.wake = asyncio.Event()
        self.recording: Recording | None = None

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time, or less if a channel of the call hangs up."""
        await self.pbx.clock.wait(self.wake, max(0.0, seconds))
        self.wake.clear()


class Dialplan:
    """Runs the priorities of one extension on a channel, each announced by Newexten."""

    def __init__(self, pbx: Pbx, channel: Channel, context: str, exten: str) -> None:
        self.pbx, self.channel = pbx, channel
        channel.context, channel.exten, channel.priority = context, exten, 0

    def app(self, application: str, data: str = "") -> None:
        self.channel.priority += 1
        self.pbx.newexten(self.channel, application, data)

    def set(self, variable: str, value: str) -> None:
        self.app("Set", f"{variable}={value}")
        self.pbx.set_var(self.channel, variable, value)

    def record(self, call: Call, kind: str, number: str, *, customer_channel: bool) -> None:
        """CC_REC_AGENT / CC_REC_CUSTOMER, then MixMonitor(...,b r() t())."""
        recording = self.pbx.recorder.plan(
            kind, number, self.channel.uniqueid, customer_channel=customer_channel, rng=self.pbx.rng
        )
        self.set(VAR_REC_AGENT, str(recording.agent))
        self.set(VAR_REC_CUSTOMER, str(recording.customer))
        self.app("MixMonitor", recording.app_data)
        self.pbx.start_mixmonitor(self.channel, str(recording.mixed))
        call.recording = recording

    def end(self, cdrs: list[Fields | None]) -> None:
        """The application returned: Hangup() unless the far end already hung up."""
        channel = self.channel
        if channel.hung_up:
            self.pbx.announce_hangup_request(channel)
            self.pbx.hangup(channel, channel.hangup_cause or NORMAL_CLEARING, cdrs)
            return
        self.app("Hangup")
        self.pbx.soft_hangup(channel)
        self.pbx.hangup(channel, NORMAL_CLEARING, cdrs)


def seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def single_cdr(pbx: Pbx, channel: Channel, application: str, data: str = "") -> Fields | None:
    disposition = "ANSWERED" if channel.answered is not None else "NO ANSWER"
    return pbx.cdr(channel, dest=None, disposition=disposition, application=application, data=data)


async def talk(call: Call, *, customer: Channel, agent: Channel) -> Channel:
    """Two bridged parties talk until one hangs up; returns the channel that ended the call."""
    pbx, plan = call.pbx, call.plan
    end = pbx.clock.now() + plan.talk_seconds
    while True:
        for channel in (customer, agent):
            if channel.hung_up:
                return channel
        now = pbx.clock.now()
        if now >= end:
            (customer if plan.hangup_by == "caller" else agent).request_hangup(NORMAL_CLEARING)
            continue
        await call.pause(end - now)
