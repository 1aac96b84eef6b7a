"""Complaint time limits: each step's deadline and state, working days for major ones."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crm.complaints.time_limits import (
    Limits,
    Step,
    TimeLimitState,
    deadlines,
    next_deadline,
    time_limits,
)
from crm.work_calendar import load_calendar

TZ = ZoneInfo("Asia/Shanghai")
CALENDAR = load_calendar()
LIMITS = Limits()


def at(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ)


def test_general_complaint_deadlines_from_receipt() -> None:
    received = at(2026, 11, 23, 10, 0)
    due = deadlines(received, major=False, limits=LIMITS, calendar=CALENDAR, tz=TZ)
    assert due == {
        Step.SIGNED: at(2026, 11, 23, 13, 0),
        Step.VERIFIED: at(2026, 11, 24, 10, 0),
        Step.SOLUTION: at(2026, 11, 24, 10, 0),
        Step.RESOLVED: at(2026, 11, 25, 10, 0),
        Step.CALLBACK: None,
    }


def test_major_complaint_on_site_within_two_working_days_across_a_holiday() -> None:
    received = at(2026, 9, 30, 16, 0)  # the day before the National Day holiday
    due = deadlines(received, major=True, limits=LIMITS, calendar=CALENDAR, tz=TZ)
    assert due[Step.RESOLVED] == at(2026, 10, 9, 16, 0)
    general = deadlines(received, major=False, limits=LIMITS, calendar=CALENDAR, tz=TZ)
    assert general[Step.RESOLVED] == at(2026, 10, 2, 16, 0)


def test_states_running_due_soon_overdue_done_and_late() -> None:
    received = at(2026, 11, 23, 10, 0)
    done = {Step.SIGNED: at(2026, 11, 23, 14, 0)}  # an hour late
    states = {
        c.step: c.state
        for c in time_limits(
            received,
            done,
            major=False,
            now=at(2026, 11, 24, 6, 0),
            limits=LIMITS,
            calendar=CALENDAR,
            tz=TZ,
        )
    }
    assert states == {
        Step.SIGNED: TimeLimitState.DONE_LATE,
        Step.VERIFIED: TimeLimitState.DUE_SOON,
        Step.SOLUTION: TimeLimitState.DUE_SOON,
        Step.RESOLVED: TimeLimitState.RUNNING,
        Step.CALLBACK: TimeLimitState.WAITING,
    }
    later = {
        c.step: c.state
        for c in time_limits(
            received,
            done,
            major=False,
            now=at(2026, 11, 24, 10, 1),
            limits=LIMITS,
            calendar=CALENDAR,
            tz=TZ,
        )
    }
    assert later[Step.VERIFIED] is TimeLimitState.OVERDUE


def test_callback_is_due_a_day_after_the_resolution() -> None:
    received = at(2026, 11, 23, 10, 0)
    resolved = at(2026, 11, 24, 15, 0)
    result = time_limits(
        received,
        {
            Step.SIGNED: received,
            Step.VERIFIED: received,
            Step.SOLUTION: received,
            Step.RESOLVED: resolved,
        },
        major=False,
        now=resolved + timedelta(hours=1),
        limits=LIMITS,
        calendar=CALENDAR,
        tz=TZ,
    )
    callback = result[-1]
    assert callback.due_at == at(2026, 11, 25, 15, 0)
    assert callback.state is TimeLimitState.RUNNING
    assert next_deadline(result) == at(2026, 11, 25, 15, 0)
