"""Frames from the PBX that could not be used: counted, and logged without flooding the log.

A broken proxy or peer can send thousands of bad frames a second; each one is worth one log
line, not a traceback, and past a few lines a minute per kind only the count matters (it is
in /healthz and /metrics as `callcentre_pbx_bad_frames`). The decision of what to log is
pure (`LogBudget`), the counting and logging is `BadFrames`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from crm.clock import Clock

log = logging.getLogger(__name__)

EXCERPT_CHARS = 120


class BadFrame(StrEnum):
    OVERSIZED = "oversized"  # longer than the decoder's cap: dropped up to its end
    UNPARSABLE = "unparsable"  # neither an event nor a response (no "Event: "/"Response: ")
    NOT_UTF8 = "not_utf8"  # bytes that are not UTF-8 (replaced by U+FFFD); still applied
    FAILED = "failed"  # parsed, but handing it on raised (e.g. two Event headers)
    NOT_APPLIED = "not_applied"  # the bridge could not apply the event (a bug: has traceback)


@dataclass
class _Window:
    started: float
    logged: int = 0
    held_back: int = 0


@dataclass
class LogBudget:
    """At most `per_window` log lines per kind in each `window` seconds."""

    per_window: int = 5
    window: float = 60.0
    _windows: dict[str, _Window] = field(default_factory=dict)

    def allow(self, kind: str, now: float) -> tuple[bool, int]:
        """Whether to log this one, and how many of this kind the window that just ended held
        back (to be said once, in one line)."""
        current = self._windows.get(kind)
        held_back = 0
        if current is None or now - current.started >= self.window:
            held_back = current.held_back if current is not None else 0
            current = self._windows[kind] = _Window(now)
        if current.logged < self.per_window:
            current.logged += 1
            return True, held_back
        current.held_back += 1
        return False, held_back


def excerpt(frame: str) -> str:
    """The start of a frame, escaped, for a log line: enough to recognise, never the whole."""
    text = repr(frame[:EXCERPT_CHARS])
    return text + ("…" if len(frame) > EXCERPT_CHARS else "")


class BadFrames:
    """The bad frames of one AMI client, across its connections."""

    def __init__(self, clock: Clock, budget: LogBudget | None = None) -> None:
        self.budget = budget or LogBudget()
        self.clock = clock
        self.counts: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def report(
        self, kind: BadFrame, detail: str, *, count: int = 1, exc_info: bool = False
    ) -> None:
        self.counts[kind.value] += count
        allowed, held_back = self.budget.allow(kind.value, self.clock.monotonic())
        if held_back:
            log.warning(
                "%d more bad AMI frame(s) (%s) were not logged in the last %g s",
                held_back,
                kind.value,
                self.budget.window,
            )
        if allowed:
            log.warning("bad AMI frame (%s): %s", kind.value, detail, exc_info=exc_info)

    def figures(self) -> dict[str, int]:
        """Every kind with its count (zeros included, so metrics have a steady set)."""
        return {kind.value: self.counts[kind.value] for kind in BadFrame}
