"""Which agent-state changes are allowed: the rules, apart from any database or PBX."""

from __future__ import annotations

from crm.agents.models import AgentStatus
from crm.errors import Problem

PAUSE_REASONS = ("break", "lunch", "training", "meeting", "after_call_work", "other")
WRAPUP_REASON = "wrapup"


def check_change(
    target: AgentStatus, reason: str | None, reasons: tuple[str, ...] = PAUSE_REASONS
) -> list[Problem]:
    """An agent may ask for ready, paused (with a reason) or logged out; wrap-up is the
    system's to start after a call, and the agent leaves it by asking for another state."""
    if target is AgentStatus.WRAPUP:
        return [Problem("status", "wrapup_is_automatic", "wrap-up starts by itself after a call")]
    if target is AgentStatus.PAUSED:
        if not reason:
            return [Problem("reason", "reason_required", "say why you pause")]
        if reason not in reasons:
            return [
                Problem(
                    "reason",
                    "unknown_reason",
                    f"unknown pause reason {reason!r}; use one of {', '.join(reasons)}",
                )
            ]
    elif reason:
        return [Problem("reason", "reason_not_allowed", "only a pause has a reason")]
    return []


def pbx_pause_reason(status: AgentStatus, reason: str | None) -> str | None:
    """What the queue member's pause reason should be at the PBX (None: not paused)."""
    if status is AgentStatus.PAUSED:
        return reason or "paused"
    if status is AgentStatus.WRAPUP:
        return WRAPUP_REASON
    return None


def check_supervisor_change(current: AgentStatus, target: AgentStatus) -> list[Problem]:
    """What a supervisor may do to an agent from the wallboard: pause one who is taking calls
    (ready or in wrap-up; a pause's reason is checked by `check_change`), put a paused one (or
    one in wrap-up) back to ready, log anyone out of the queues. A supervisor never logs an
    agent in: that is the agent's own doing, at their phone."""
    if target is AgentStatus.PAUSED and current is AgentStatus.LOGGED_OUT:
        return [Problem("status", "agent_logged_out", "the agent is logged out: nothing to pause")]
    if target is AgentStatus.READY and current not in (AgentStatus.PAUSED, AgentStatus.WRAPUP):
        return [Problem("status", "agent_not_paused", "the agent is not paused")]
    if target is AgentStatus.WRAPUP:
        return [Problem("status", "wrapup_is_automatic", "wrap-up starts by itself after a call")]
    return []
