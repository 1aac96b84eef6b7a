"""A period's calls with the wallboard's queue statistics (crm.calls.stats, whose conventions
both state): queue calls offered, answered, abandoned, answered within the 3-ring limit, the
service level and average speed of answer, in total and per hour; outbound calls counted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls import service as call_records
from crm.calls.models import Direction
from crm.calls.stats import CountedCall, QueueStats


@dataclass(frozen=True, slots=True)
class PeriodCall:
    facts: CountedCall
    direction: Direction


async def load_calls(session: AsyncSession, start: datetime, end: datetime) -> list[PeriodCall]:
    """Calls that started in [start, end)."""
    found = await call_records.counted_calls(session, start=start, end=end)
    return [PeriodCall(call, direction) for call, direction in found]


def service_level(stats: QueueStats) -> float | None:
    """The service level as a fraction (the wallboard shows it as a percentage)."""
    return None if stats.service_level is None else stats.service_level / 100


@dataclass(slots=True)
class CallFigures:
    queues: QueueStats = field(default_factory=lambda: QueueStats(""))  # every queue together
    by_hour: list[QueueStats] = field(
        default_factory=lambda: [QueueStats(f"{hour:02d}:00") for hour in range(24)]
    )
    outbound: int = 0
    outbound_answered: int = 0


def tally_calls(calls: Iterable[PeriodCall], *, limit_seconds: float, tz: ZoneInfo) -> CallFigures:
    """Queue calls (callers waiting for an agent) by the wallboard's rules; outbound apart."""
    figures = CallFigures()
    for call in calls:
        if call.direction is Direction.OUTBOUND:
            figures.outbound += 1
            figures.outbound_answered += call.facts.answered
        elif call.facts.queue:
            figures.queues.add(call.facts, limit_seconds)
            hour = call.facts.started_at.astimezone(tz).hour
            figures.by_hour[hour].add(call.facts, limit_seconds)
    return figures
