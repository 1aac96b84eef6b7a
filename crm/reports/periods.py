"""The periods reports cover, in the call centre's time zone: a day, the week ending each
Monday (due the Tuesday after), a calendar month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.clock import day_start


class ReportKind(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True, slots=True)
class Period:
    kind: ReportKind
    first: date  # first day, inclusive
    last: date  # last day, inclusive
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        """The first instant of the period (local midnight, aware)."""
        return day_start(self.first, self.tz)

    @property
    def end(self) -> datetime:
        """The instant after the period (local midnight after the last day)."""
        return day_start(self.last + timedelta(days=1), self.tz)

    @property
    def due(self) -> date:
        """When the report is due: the Tuesday after a week, the day after a day or month."""
        return self.last + timedelta(days=1)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def as_of(self, now: datetime) -> datetime:
        """The instant the report's state is taken at: the period's end, or now while it runs."""
        return min(self.end, now)


def day_period(day: date, tz: ZoneInfo) -> Period:
    return Period(ReportKind.DAILY, day, day, tz)


def week_ending(day: date) -> date:
    """The Monday that ends the report week holding `day` (the Monday on or before it)."""
    return day - timedelta(days=day.weekday())


def week_period(day: date, tz: ZoneInfo) -> Period:
    """The seven days Tuesday to Monday that end on the Monday on or before `day`: the week
    the 周回访情况分析表 due on the following Tuesday covers."""
    last = week_ending(day)
    return Period(ReportKind.WEEKLY, last - timedelta(days=6), last, tz)


def month_period(day: date, tz: ZoneInfo) -> Period:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(ReportKind.MONTHLY, first, following - timedelta(days=1), tz)


def months_back(day: date, count: int) -> list[date]:
    """The first days of `count` months ending with `day`'s month, oldest first."""
    firsts = [day.replace(day=1)]
    while len(firsts) < count:
        firsts.append((firsts[-1] - timedelta(days=1)).replace(day=1))
    return firsts[::-1]


def period_for(kind: ReportKind, day: date, tz: ZoneInfo) -> Period:
    return {
        ReportKind.DAILY: day_period,
        ReportKind.WEEKLY: week_period,
        ReportKind.MONTHLY: month_period,
    }[kind](day, tz)


def latest_complete(kind: ReportKind, today: date) -> date:
    """The date that selects the last period already over: yesterday's day, the week that
    ended on the last Monday before today, last month."""
    if kind is ReportKind.MONTHLY:
        return today.replace(day=1) - timedelta(days=1)
    return today - timedelta(days=1)
