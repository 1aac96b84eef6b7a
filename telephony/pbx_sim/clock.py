"""The simulator's clock: simulated seconds, running `1 / time_scale` times faster than real."""

from __future__ import annotations

import asyncio

from crm.clock import Clock


class SimClock:
    """Wall-clock-like time in simulated seconds, from the given real clock's readings;
    sleeping is scaled by `time_scale`."""

    def __init__(self, real: Clock, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self._real = real
        self._wall0 = real.now().timestamp()
        self._mono0 = real.monotonic()
        self._offset = 0.0

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._wall0 + (self._real.monotonic() - self._mono0) / self.time_scale + self._offset

    def real(self, seconds: float) -> float:
        """Real seconds for `seconds` of simulated time."""
        return max(0.0, seconds) * self.time_scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        """Wait for `event` at most `seconds` (simulated); True if it was set."""
        if event.is_set():
            return True
        if seconds is None:
            await event.wait()
            return True
        try:
            await asyncio.wait_for(event.wait(), self.real(seconds))
        except TimeoutError:
            return False
        return True

    def move_past(self, epoch: int) -> None:
        """Jump forward so that `int(now())` is greater than `epoch` (a restart's new ids)."""
        gap = epoch + 1 - self.now()
        if gap > 0:
            self._offset += gap
