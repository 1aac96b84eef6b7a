"""Time each agent spent in each state over a period, from the state history (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from crm.agents.models import AgentStatus


@dataclass(frozen=True, slots=True)
class StatePeriod:
    user_id: int
    status: AgentStatus
    started_at: datetime
    ended_at: datetime | None  # None: still in it


def time_in_states(
    periods: Iterable[StatePeriod], *, start: datetime, end: datetime
) -> dict[int, dict[AgentStatus, float]]:
    """Seconds per agent per state, each period clipped to [start, end] (an open period runs
    until `end`, normally now)."""
    result: dict[int, dict[AgentStatus, float]] = {}
    for period in periods:
        begin = max(period.started_at, start)
        finish = min(period.ended_at or end, end)
        if finish <= begin:
            continue
        totals = result.setdefault(period.user_id, {})
        totals[period.status] = totals.get(period.status, 0.0) + (finish - begin).total_seconds()
    return result
