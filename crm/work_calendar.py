"""Working days: weekends and Chinese public holidays, with make-up working days, as data.

Time limits counted in working days (a major complaint on site within 2 working days) and
"no calls on holidays" both read the same calendar.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("holidays_cn.toml")


class CalendarError(ValueError):
    """The calendar file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # weekend days worked in exchange (调休)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day not in self.holidays and day.weekday() < 5

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time `days` working days later (counting from the next day)."""
        moment, left = start, days
        while left > 0:
            moment += timedelta(days=1)
            if self.is_working_day(moment.date()):
                left -= 1
        return moment

    def working_days_between(self, first: date, last: date) -> int:
        """Working days after `first` up to and including `last`."""
        return sum(
            1
            for n in range(1, (last - first).days + 1)
            if self.is_working_day(first + timedelta(days=n))
        )


def _dates(path: Path, year: str, key: str, values: object) -> frozenset[date]:
    if not isinstance(values, list):
        raise CalendarError(f"{path}: [{year}] {key} must be a list of dates")
    days = set()
    for value in values:
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(
                f"{path}: [{year}] {key}: {value!r} is not a date (YYYY-MM-DD)"
            ) from None
        days.add(day)
    return frozenset(days)


def load_calendar(path: Path | None = None) -> WorkCalendar:
    path = path or DEFAULT_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CalendarError(f"{path}: {exc}") from None
    holidays: set[date] = set()
    workdays: set[date] = set()
    for year, section in data.items():
        if not isinstance(section, dict):
            raise CalendarError(f"{path}: [{year}] must be a table")
        holidays |= _dates(path, year, "holidays", section.get("holidays", []))
        workdays |= _dates(path, year, "workdays", section.get("workdays", []))
    clash = holidays & workdays
    if clash:
        raise CalendarError(f"{path}: {min(clash)} is both a holiday and a working day")
    return WorkCalendar(frozenset(holidays), frozenset(workdays))
