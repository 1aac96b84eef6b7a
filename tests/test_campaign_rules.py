"""Campaign rules: calling hours and holidays, retries and limits, ordering, pacing, rate."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm.callbacks.models import Outcome
from crm.campaigns.rules import (
    CallingHours,
    DialBlockKind,
    RetryPolicy,
    StartRate,
    calls_to_start,
    dial_block,
    order_key,
)
from crm.work_calendar import load_calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS = CallingHours(((time(9), time(12)), (time(14), time(20))), SHANGHAI, load_calendar())


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (local(2026, 11, 23, 8, 59), False),
        (local(2026, 11, 23, 9, 0), True),
        (local(2026, 11, 23, 11, 59), True),
        (local(2026, 11, 23, 12, 0), False),  # lunch
        (local(2026, 11, 23, 14, 0), True),
        (local(2026, 11, 23, 20, 0), False),
        (local(2026, 11, 22, 10, 0), True),  # Sundays are fine: customers are at home
        (local(2026, 10, 2, 10, 0), False),  # 国庆节: no calls on public holidays
        (datetime(2026, 11, 23, 1, 30, tzinfo=UTC), True),  # 09:30 in Shanghai
    ],
)
def test_calling_hours(at: datetime, allowed: bool) -> None:
    assert HOURS.allows(at) is allowed


def test_next_opening_skips_lunch_nights_and_holidays() -> None:
    assert HOURS.next_opening(local(2026, 11, 23, 12, 30)) == local(2026, 11, 23, 14, 0)
    assert HOURS.next_opening(local(2026, 11, 23, 20, 5)) == local(2026, 11, 24, 9, 0)
    assert HOURS.next_opening(local(2026, 9, 30, 21, 0)) == local(2026, 10, 8, 9, 0)
    at = local(2026, 11, 23, 10, 0)
    assert HOURS.next_opening(at) == at


def test_retries_wait_by_outcome() -> None:
    policy = RetryPolicy()
    at = local(2026, 11, 23, 10, 0)
    assert policy.next_try(Outcome.BUSY, at) == at + timedelta(minutes=10)
    assert policy.next_try(Outcome.NO_ANSWER, at) == at + timedelta(hours=2)
    assert policy.next_try(Outcome.FAILED, at) == at + timedelta(minutes=30)
    later = at + timedelta(days=1)
    assert policy.next_try(Outcome.CALL_LATER, at, later) == later
    for final in (Outcome.EFFECTIVE, Outcome.REFUSED, Outcome.WRONG_PERSON):
        assert policy.next_try(final, at) is None


def test_attempt_limits() -> None:
    policy = RetryPolicy()
    assert not policy.done_for_today(today=2) and policy.done_for_today(today=3)
    assert not policy.exhausted(total=5) and policy.exhausted(total=6)


def test_overdue_first_then_grade_then_due_date() -> None:
    today = date(2026, 11, 23)
    tasks = [
        ("B due today", date(2026, 11, 26), 2, date(2026, 11, 23), 1),
        ("C overdue", date(2026, 11, 20), 3, date(2026, 11, 17), 2),
        ("A due today", date(2026, 11, 26), 1, date(2026, 11, 23), 3),
        ("A overdue", date(2026, 11, 22), 1, date(2026, 11, 19), 4),
        ("A earlier", date(2026, 11, 25), 1, date(2026, 11, 22), 5),
    ]
    ordered = sorted(
        tasks,
        key=lambda t: order_key(
            latest_date=t[1], grade_rank=t[2], due_date=t[3], task_id=t[4], today=today
        ),
    )
    assert [t[0] for t in ordered] == [
        "A overdue",
        "C overdue",
        "A earlier",
        "A due today",
        "B due today",
    ]


@pytest.mark.parametrize(
    ("ready", "busy", "ratio", "ceiling", "expected"),
    [
        (3, 0, 1.0, 10, 3),
        (3, 2, 1.0, 10, 1),
        (3, 3, 1.0, 10, 0),
        (3, 5, 1.0, 10, 0),
        (4, 0, 1.5, 10, 6),
        (10, 0, 1.0, 4, 4),
        (0, 0, 1.0, 4, 0),
        (2, 0, 0.5, 4, 1),
    ],
)
def test_pacing_never_exceeds_agents_or_ceiling(
    ready: int, busy: int, ratio: float, ceiling: int, expected: int
) -> None:
    assert (
        calls_to_start(ready_agents=ready, in_progress=busy, ratio=ratio, max_concurrent=ceiling)
        == expected
    )


def test_start_rate_caps_calls_per_second() -> None:
    rate = StartRate(1.0)
    assert rate.take(100.0) and not rate.take(100.1)
    assert rate.wait_time(100.1) == pytest.approx(0.9)
    assert rate.take(101.0) and not rate.take(101.5)
    starts = sum(rate.take(102.0 + i * 0.1) for i in range(100))  # ten seconds of trying
    assert starts == 10


def test_dial_block_do_not_call_before_the_hours() -> None:
    """One rule for every call, the dialer's and an agent's: a customer who asked not to be
    called is never called; otherwise only within the calling hours."""
    open_now, closed_now = local(2026, 11, 23, 10, 0), local(2026, 11, 23, 21, 30)
    assert dial_block(do_not_call=[], hours=HOURS, at=open_now) is None
    refused = dial_block(do_not_call=[("赵六", "客户要求不再回访")], hours=HOURS, at=open_now)
    assert refused is not None and refused.kind is DialBlockKind.DO_NOT_CALL
    assert refused.message == "赵六 must not be called: 客户要求不再回访"
    night = dial_block(do_not_call=[("赵六", None)], hours=HOURS, at=closed_now)
    assert night is not None and night.kind is DialBlockKind.DO_NOT_CALL
    late = dial_block(do_not_call=[], hours=HOURS, at=closed_now)
    assert late is not None and late.kind is DialBlockKind.OUTSIDE_CALLING_HOURS
    assert late.opens_at == local(2026, 11, 24, 9, 0)
    holiday = dial_block(do_not_call=[], hours=HOURS, at=local(2026, 10, 2, 10, 0))
    assert holiday is not None and holiday.kind is DialBlockKind.OUTSIDE_CALLING_HOURS
