"""The one clock: nothing else in the product reads the wall or the monotonic time.

Code that decides anything by time takes a `Clock` where it is built (the `callcentre`
command makes the one `SystemClock`, web/cli.py), so tests can set the hour and move time on.
It has two readings: `now()`, the wall time (aware, UTC) for what is stored, shown and
decided by the calendar; `monotonic()`, seconds that only go forward, for timeouts, cache
ages and rates (a wall clock set back by NTP must not stretch a timeout). Waiting
(`asyncio.sleep`, `wait_for` timeouts) is not reading, and stays with asyncio; so do log
records' timestamps. tests/test_layering.py holds every other module to this.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back: only differences mean
        anything, and only within one process."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FixedClock:
    """A clock that only moves when told to (tests, replays). `advance` moves both readings,
    as time passing does; `set` moves the wall time alone, as setting a clock does."""

    def __init__(self, at: datetime, *, monotonic: float = 1_000.0) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)
        self._monotonic = monotonic

    def now(self) -> datetime:
        return self._at

    def monotonic(self) -> float:
        return self._monotonic

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, **delta: float) -> datetime:
        step = timedelta(**delta)
        if step < timedelta(0):
            raise ValueError("time only moves forward; set() the wall time instead")
        self._at += step
        self._monotonic += step.total_seconds()
        return self._at


def row_stamp() -> datetime:
    """The instant SQLAlchemy writes into a row's created_at / updated_at. A column default
    runs inside the ORM's flush, where no `Clock` reaches, so these bookkeeping stamps read
    the system's wall time; whatever the business decides by carries a time from a Clock."""
    return datetime.now(UTC)


def local_today(clock: Clock, tz: ZoneInfo) -> date:
    """Today's date where the call centre is (Asia/Shanghai by default), not in UTC."""
    return clock.now().astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight at the start of `day` where the centre is, as an aware instant: the one
    way a calendar day becomes a range of stored times (calls, callbacks, reports)."""
    return datetime.combine(day, day_time(), tz)


def local_day_window(now: datetime, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """Today where the centre is, and its start and end as aware instants."""
    day = now.astimezone(tz).date()
    return day, day_start(day, tz), day_start(day + timedelta(days=1), tz)
