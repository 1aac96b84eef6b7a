"""What every call scenario is built from: the plan of the people in it, the call's wake-up
event, and the conversation between two bridged parties."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from telephony.ami.vocabulary import HangupCause
from telephony.pbx_sim.channels import Channel

if TYPE_CHECKING:
    from telephony.pbx_sim.pbx import Pbx


class HangsUp(StrEnum):
    """Which party of a planned conversation hangs up, in Asterisk's words (AgentComplete)."""

    CALLER = "caller"  # the customer
    AGENT = "agent"


@dataclass
class CallPlan:
    """How the people in one call behave, where the dialplan does not say it (PJSIP phones and
    customers are people; a Local channel's far half runs its own dialplan instead)."""

    talk_seconds: float | None  # None: nobody hangs up by plan, the dialplan ends the talk
    hangup_by: HangsUp
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
    if talk_seconds is None and config.talk_seconds is not None:
        talk_seconds = rng.uniform(*config.talk_seconds)
    if hangup_by is None:
        side = HangsUp.CALLER if rng.random() < config.caller_hangup_ratio else HangsUp.AGENT
    elif hangup_by == "customer":  # the server's word for Asterisk's "caller"
        side = HangsUp.CALLER
    elif hangup_by in (HangsUp.CALLER, HangsUp.AGENT):
        side = HangsUp(hangup_by)
    else:
        raise ValueError("hangup_by must be 'customer' (or 'caller') or 'agent'")
    return CallPlan(talk_seconds, side, answer_after, patience, nobody_answers)


class Call:
    """Anything that happens to one channel of a call (an answer, a hangup) wakes every
    application waiting in the call, which then re-runs its checks.

    Each wake-up is a fresh event that is set and never cleared: several applications wait
    at once (a queue and its members' far halves), and one of them clearing a shared event
    could leave another asleep."""

    def __init__(self, pbx: Pbx, plan: CallPlan) -> None:
        self.pbx = pbx
        self.plan = plan
        self._next = asyncio.Event()

    def notify(self) -> None:
        event, self._next = self._next, asyncio.Event()
        event.set()

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time, or less if something happens in the call."""
        await self.pbx.clock.wait(self._next, max(0.0, seconds))

    def next_change(self) -> asyncio.Event:
        """Set the next time something happens in the call (for waiting on several calls)."""
        return self._next


def seconds_text(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


async def talk(call: Call, *, customer: Channel, agent: Channel) -> Channel:
    """Two bridged parties talk until one hangs up or is transferred away; returns the
    channel that ended the call (hung up), or the transferee (its `after_bridge` set).

    The plan's talk time ends it from the side the plan says; without one, the parties' own
    dialplans (a Local channel's far half) or an AMI Hangup end it.
    """
    pbx, plan = call.pbx, call.plan
    end = pbx.clock.now() + plan.talk_seconds if plan.talk_seconds is not None else None
    while True:
        for channel in (customer, agent):
            if channel.hung_up or channel.after_bridge is not None:
                return channel
        now = pbx.clock.now()
        if end is not None and now >= end:
            pbx.far_hangup(
                customer if plan.hangup_by is HangsUp.CALLER else agent,
                HangupCause.NORMAL_CLEARING,
            )
            continue
        await call.pause(end - now if end is not None else 3600.0)
