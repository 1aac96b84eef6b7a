"""Repairs of a period by crew: how many, how many crews arrived within their 8 hours, whether
customer service called afterwards and how satisfied the customers were (the evidence the
manuals rate crews on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.repairs.models import Repair
from crm.reports.tallies import SatisfactionCount, rate


@dataclass(slots=True)
class CrewTally:
    crew: str
    repairs: int = 0
    arrived_on_time: int = 0
    arrived_late: int = 0
    not_arrived_overdue: int = 0  # nobody there yet and the 8 hours are up
    called_after: int = 0
    satisfaction: SatisfactionCount = field(default_factory=SatisfactionCount)

    @property
    def on_time_rate(self) -> float | None:
        """Arrivals within the limit ÷ repairs whose limit has come (arrived, or overdue)."""
        return rate(
            self.arrived_on_time,
            self.arrived_on_time + self.arrived_late + self.not_arrived_overdue,
        )

    def add(self, repair: Repair, as_of: datetime) -> None:
        self.repairs += 1
        arrived = repair.arrived_at if repair.arrived_at and repair.arrived_at < as_of else None
        if arrived is not None:
            if arrived <= repair.arrival_due_at:
                self.arrived_on_time += 1
            else:
                self.arrived_late += 1
        elif repair.arrival_due_at < as_of:
            self.not_arrived_overdue += 1
        if repair.after_call_at is not None and repair.after_call_at < as_of:
            self.called_after += 1
            self.satisfaction.add(repair.satisfaction)


async def repairs_by_crew(
    session: AsyncSession, start: datetime, end: datetime, *, as_of: datetime
) -> tuple[list[CrewTally], CrewTally]:
    """Repairs reported in [start, end) by crew (most repairs first) and the total, as they
    stood at `as_of`."""
    rows: dict[str, CrewTally] = {}
    total = CrewTally("")
    for repair in await session.scalars(
        select(Repair)
        .where(Repair.reported_at >= start, Repair.reported_at < end)
        .order_by(Repair.reported_at, Repair.id)
    ):
        rows.setdefault(repair.crew, CrewTally(repair.crew)).add(repair, as_of)
        total.add(repair, as_of)
    return sorted(rows.values(), key=lambda r: (-r.repairs, r.crew)), total
