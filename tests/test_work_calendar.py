"""Working-day arithmetic across weekends, holidays and make-up working days."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from crm.work_calendar import CalendarError, load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = load_calendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 11, 23), True),  # a Monday
        (date(2026, 11, 22), False),  # a Sunday
        (date(2026, 10, 1), False),  # 国庆节
        (date(2026, 10, 10), True),  # a Saturday worked in exchange (调休)
        (date(2026, 2, 14), True),
        (date(2026, 2, 23), False),  # 春节, a Monday
        (date(2025, 10, 8), False),
    ],
)
def test_working_days(day: date, working: bool) -> None:
    assert CALENDAR.is_working_day(day) is working


def test_two_working_days_across_the_national_day_holiday() -> None:
    # A major complaint received on Wednesday 30 September 2026, 16:00.
    received = datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
    assert CALENDAR.add_working_days(received, 2) == datetime(2026, 10, 9, 16, 0, tzinfo=SHANGHAI)
    # Thursday 8, Friday 9 and Saturday 10 October (worked in exchange): three working days.
    assert CALENDAR.working_days_between(date(2026, 9, 30), date(2026, 10, 10)) == 3


def test_two_working_days_over_a_weekend() -> None:
    received = datetime(2026, 11, 27, 9, 30, tzinfo=SHANGHAI)  # a Friday
    assert CALENDAR.add_working_days(received, 2) == datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)


def test_holidays_are_not_weekends() -> None:
    assert CALENDAR.is_holiday(date(2026, 5, 1))
    assert not CALENDAR.is_holiday(date(2026, 11, 22))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[2026]\nholidays = ['2026-13-01']", "is not a date"),
        ("[2026]\nholidays = '2026-01-01'", "must be a list"),
        ("[2026]\nholidays = ['2026-01-01']\nworkdays = ['2026-01-01']", "both a holiday"),
        ("[2026", "calendar.toml"),
    ],
)
def test_bad_calendar_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        load_calendar(path)
