"""Clocks for tests that run the server's real tasks: the fake `crm.clock.FixedClock` is in the
product (replays use it too); this adds the real pace to a chosen wall time."""

from __future__ import annotations

import time
from datetime import datetime

from crm.clock import Clock, SystemClock


class RealPace:
    """The wall time of the clock it is given (a FixedClock the test still sets and advances)
    with monotonic readings at the real pace. A running system (a bridge settling after its
    resync, AMI and cache timeouts, the dialer's start rate, a simulated PBX's calls) lives
    in real time whether or not the test moves its clock; only the hour is the test's."""

    def __init__(self, wall: Clock) -> None:
        self.wall = wall

    def now(self) -> datetime:
        return self.wall.now()

    def monotonic(self) -> float:
        return time.monotonic()


def real_pace(clock: Clock | None) -> Clock:
    """What a running system under test is given: the system's clock when the test chose no
    hour, else the test's hour at the real pace."""
    return SystemClock() if clock is None else RealPace(clock)
