"""Work someone is waiting for this instant (a ringing agent's screen pop) before the rest of
the process's work: background steps that coalesce what piles up meanwhile (storing calls,
in batches; the agents' state pushes, one read for every agent whose phone moved; the
wallboard, redrawn once for many changes) wait for it, briefly, before they start. Only a
step that coalesces may wait: one that handled events one by one would be capped at ten
events a second while pops never stop, and would fall behind for good.

One event loop runs everything in a process; while a pop's card is read and pushed, a batch
of calls being stored or an agent-state push reading the database takes the same loop (and,
on SQLite, the same interpreter lock for its thread), and the pop waits behind it. Those steps
are not late by a few milliseconds; a pop is, to the agent whose phone rings. The wait is
bounded (`MOST_WAIT`) so a steady stream of pops never starves them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

MOST_WAIT = 0.1  # seconds a background step waits for the pops before it goes anyway


class Foreground:
    def __init__(self, *, most_wait: float = MOST_WAIT) -> None:
        self.most_wait = most_wait
        self._running = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.deferred = 0  # background steps that waited (a figure for tests and metrics)

    @property
    def busy(self) -> bool:
        return self._running > 0

    def begin(self) -> None:
        self._running += 1
        self._quiet.clear()

    def end(self) -> None:
        self._running -= 1
        if self._running <= 0:
            self._running = 0
            self._quiet.set()

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """`with foreground.running():` around foreground work."""
        self.begin()
        try:
            yield
        finally:
            self.end()

    async def yield_to(self) -> None:
        """Before a background step: let the foreground work in progress finish first (at
        most `most_wait` seconds)."""
        if not self._running:
            return
        self.deferred += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), self.most_wait)
