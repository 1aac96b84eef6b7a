"""What a campaign may dial, when, and how fast: pure rules, tested with any clock.

Calling hours are local (Asia/Shanghai by default) and closed on public holidays; retries wait
by outcome and stop at a daily and a total limit; pacing never starts more calls than there
are ready agents (times a ratio), the campaign's ceiling, or the trunk's call-start rate. A
number is called by nobody — the dialer or an agent's dial pad — when a customer who owns it
asked not to be called, or outside the calling hours (`dial_block`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.callbacks.models import Outcome
from crm.work_calendar import WorkCalendar


@dataclass(frozen=True, slots=True)
class CallingHours:
    windows: tuple[tuple[time, time], ...]
    tz: ZoneInfo
    calendar: WorkCalendar

    def allows(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        if self.calendar.is_holiday(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.windows)

    def next_opening(self, at: datetime, *, horizon_days: int = 60) -> datetime | None:
        """The first instant at or after `at` when calling is allowed."""
        if self.allows(at):
            return at
        local = at.astimezone(self.tz)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            if self.calendar.is_holiday(day):
                continue
            for start, _ in self.windows:
                opening = datetime.combine(day, start, tzinfo=self.tz)
                if opening >= local:
                    return opening
        return None


class DialBlockKind(StrEnum):
    DO_NOT_CALL = "do_not_call"
    OUTSIDE_CALLING_HOURS = "outside_calling_hours"


@dataclass(frozen=True, slots=True)
class DialBlock:
    """Why a number must not be called now, in words an agent reads."""

    kind: DialBlockKind
    message: str
    opens_at: datetime | None = None  # outside the calling hours: when they open next


def dial_block(
    *, do_not_call: Sequence[tuple[str, str | None]], hours: CallingHours, at: datetime
) -> DialBlock | None:
    """Whether a number may be called at `at`: `do_not_call` lists (name, reason) of the
    customers owning it who asked not to be called; `hours` are the calling hours that
    apply (a campaign's, or the centre's)."""
    if do_not_call:
        name, reason = do_not_call[0]
        return DialBlock(
            DialBlockKind.DO_NOT_CALL,
            f"{name} must not be called: {reason}" if reason else f"{name} must not be called",
        )
    if not hours.allows(at):
        opens = hours.next_opening(at)
        when = f"; calling opens at {opens.isoformat(timespec='minutes')}" if opens else ""
        return DialBlock(
            DialBlockKind.OUTSIDE_CALLING_HOURS, f"outside the calling hours{when}", opens
        )
    return None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    busy_after: timedelta = timedelta(minutes=10)
    no_answer_after: timedelta = timedelta(hours=2)
    failed_after: timedelta = timedelta(minutes=30)  # congestion, network failures
    max_per_day: int = 3
    max_total: int = 6

    def next_try(
        self, outcome: Outcome, at: datetime, call_back_at: datetime | None = None
    ) -> datetime | None:
        """When the task may be dialed again after this outcome (None: not automatically)."""
        if outcome is Outcome.BUSY:
            return at + self.busy_after
        if outcome is Outcome.NO_ANSWER:
            return at + self.no_answer_after
        if outcome in (Outcome.FAILED, Outcome.CONGESTION):
            return at + self.failed_after
        if outcome is Outcome.CALL_LATER:
            return call_back_at
        return None  # effective, refused, wrong person: a person decides what comes next

    def exhausted(self, *, total: int) -> bool:
        """Whether the task has had all the attempts it may have (then: unreachable)."""
        return total >= self.max_total

    def done_for_today(self, *, today: int) -> bool:
        return today >= self.max_per_day


def order_key(
    *, latest_date: date, grade_rank: int, due_date: date, task_id: int, today: date
) -> tuple[int, int, date, int]:
    """Overdue first, then grade A before B before C (the task's priority: a major complaint's
    call back ranks with grade A), then the earliest due date."""
    return (0 if latest_date < today else 1, grade_rank, due_date, task_id)


def calls_to_start(
    *, ready_agents: int, in_progress: int, ratio: float, max_concurrent: int
) -> int:
    """How many new calls may start now without exceeding the agents (times the ratio) or the
    campaign's ceiling."""
    allowed = min(int(ready_agents * ratio + 1e-9), max_concurrent)
    return max(0, allowed - in_progress)


class StartRate:
    """A token bucket for call starts per second on the trunk (default 1)."""

    def __init__(self, per_second: float, *, burst: float | None = None) -> None:
        if per_second <= 0:
            raise ValueError("the call-start rate must be positive")
        self.per_second = per_second
        self.capacity = burst if burst is not None else max(1.0, per_second)
        self._tokens = self.capacity
        self._last: float | None = None

    def take(self, now: float) -> bool:
        """Spend one start if the rate allows it at monotonic time `now`."""
        if self._last is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.per_second)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until the next start is allowed."""
        if self._last is not None:
            tokens = min(self.capacity, self._tokens + (now - self._last) * self.per_second)
        else:
            tokens = self._tokens
        return 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
