"""Inbound call figures: offered, answered, abandoned, answered within the 3-ring limit
(15 s of waiting by default), average speed of answer, per hour of the day."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call, CallOutcome, Direction
from crm.reports.tallies import rate


@dataclass(frozen=True, slots=True)
class CallFact:
    started_at: datetime
    direction: Direction
    outcome: CallOutcome | None
    answered_at: datetime | None
    wait_seconds: float | None
    talk_seconds: float | None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def seconds_to_answer(self) -> float | None:
        """The caller's wait until an agent answered: the queue's hold time, or the time from
        the call's start to its answer when the PBX gave none."""
        if self.answered_at is None:
            return None
        if self.wait_seconds is not None:
            return self.wait_seconds
        return (self.answered_at - self.started_at).total_seconds()


async def load_calls(session: AsyncSession, start: datetime, end: datetime) -> list[CallFact]:
    """Calls that started in [start, end) and have ended."""
    rows = await session.execute(
        select(Call.started_at, Call.direction, Call.outcome, Call.answered_at,
               Call.wait_seconds, Call.talk_seconds)
        .where(Call.started_at >= start, Call.started_at < end, Call.ended_at.is_not(None))
        .order_by(Call.started_at, Call.id))
    return [CallFact(*row) for row in rows]


@dataclass(slots=True)
class CallTally:
    """Inbound calls: `offered` is every call that came in; `answered` reached an agent;
    `abandoned` hung up waiting; `within_limit` was answered within the 3-ring limit.
    The 3-ring rate is within_limit ÷ answered (Asterisk's service-level convention)."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    within_limit: int = 0
    wait_total: float = 0.0  # seconds waited by the answered calls
    talk_total: float = 0.0

    def add(self, call: CallFact, limit_seconds: float) -> None:
        self.offered += 1
        if call.answered:
            self.answered += 1
            waited = call.seconds_to_answer or 0.0
            self.wait_total += waited
            self.within_limit += waited <= limit_seconds
            self.talk_total += call.talk_seconds or 0.0
        elif call.outcome is CallOutcome.ABANDONED:
            self.abandoned += 1

    @property
    def within_limit_rate(self) -> float | None:
        return rate(self.within_limit, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return rate(self.abandoned, self.offered)

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.wait_total / self.answered if self.answered else None

    @property
    def average_talk(self) -> float | None:
        return self.talk_total / self.answered if self.answered else None


@dataclass(slots=True)
class CallFigures:
    inbound: CallTally = field(default_factory=CallTally)
    outbound: int = 0
    outbound_answered: int = 0
    by_hour: list[CallTally] = field(default_factory=lambda: [CallTally() for _ in range(24)])


def tally_calls(calls: Iterable[CallFact], *, limit_seconds: float, tz: ZoneInfo
                ) -> CallFigures:
    figures = CallFigures()
    for call in calls:
        if call.direction is Direction.OUTBOUND:
            figures.outbound += 1
            figures.outbound_answered += call.answered
            continue
        figures.inbound.add(call, limit_seconds)
        figures.by_hour[call.started_at.astimezone(tz).hour].add(call, limit_seconds)
    return figures
