"""What an agent is doing now, as the floor sees it: the state they chose (ready, paused with a
reason, wrap-up, logged out) unless their phone says otherwise (ringing, on a call). One
derivation, pure, for the wallboard and for the agent's own console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm.agents.models import AgentStatus


class Presence(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    WRAPUP = "wrapup"
    RINGING = "ringing"  # the agent's phone rings with a call for them
    ON_CALL = "on_call"  # a call is connected to the agent's phone


@dataclass(frozen=True, slots=True)
class PhoneCall:
    """A call at an agent's phone now: which one, and since when (rang / was answered)."""

    linkedid: str
    since: datetime


@dataclass(frozen=True, slots=True)
class AgentPhone:
    """An agent's phone now, from the PBX's live calls: the call connected to it, the one
    ringing it (either may be missing)."""

    on_call: PhoneCall | None = None
    ringing: PhoneCall | None = None


@dataclass(frozen=True, slots=True)
class AgentPresence:
    presence: Presence
    reason: str | None  # the pause reason, only while the chosen state is shown
    since: datetime | None  # in this presence since (on a call: answered; ringing: rang)
    linkedid: str | None  # the call behind ringing / on a call


def present(
    *,
    status: AgentStatus,
    reason: str | None,
    since: datetime | None,
    phone: AgentPhone | None,
) -> AgentPresence:
    """A connected call outranks a ringing one, which outranks the chosen state: an agent
    paused to make a call is on that call, and a ready agent whose phone rings is ringing."""
    if phone is not None and phone.on_call is not None:
        return AgentPresence(Presence.ON_CALL, None, phone.on_call.since, phone.on_call.linkedid)
    if phone is not None and phone.ringing is not None:
        return AgentPresence(Presence.RINGING, None, phone.ringing.since, phone.ringing.linkedid)
    return AgentPresence(Presence(status.value), reason, since, None)
