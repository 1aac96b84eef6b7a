"""Queue statistics (offered, answered, abandoned, service level ...) as pure functions of calls.

The conventions, stated once here and on the wallboard:

- A call counts for the queue it waited in, on the day it started (local time).
- **wait**: from entering the queue until an agent answered, or until the caller left
  (the PBX's hold time when it gave one, else the time since the call started).
- **failed**: the PBX itself ended the call before an agent answered (it stopped or
  restarted).
- **offered** = answered + abandoned + timed out + no agent + failed: calls still waiting are
  not offered yet.
- **answered**: an agent picked the call up (the call's outcome; the PBX answering the caller
  to play music before the queue is no answer). It counts at the moment of answer, so a call
  in conversation is already answered.
- **abandoned**: the caller hung up while waiting; **timed out**: the queue gave up;
  **no agent**: the queue refused the caller or let them go because nobody was logged in or
  reachable (joinempty / leavewhenempty): calls lost for want of staff, which the PBX hung up.
- **answered within T** (T = 15 s, "3 rings"): answered with wait <= T.
- **service level** = answered within T / (offered - abandoned within T): a caller who hangs
  up before T has passed is not held against the centre (the usual ACD convention).
- **abandon rate** = abandoned / offered; **average speed of answer** = mean wait of answered
  calls; **longest wait** = the longest wait of any offered call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from crm.calls.models import CallOutcome


@dataclass(frozen=True, slots=True)
class CountedCall:
    """What the statistics need of one call (from the `calls` table or the live tracker)."""

    linkedid: str
    started_at: datetime
    queue: str | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome | None = None  # None while live
    wait_seconds: float | None = None  # the PBX's hold time in the queue
    talk_seconds: float | None = None
    agent_id: int | None = None

    @property
    def answered(self) -> bool:
        """The outcome says so; while the call lasts, an agent's answer does."""
        if self.outcome is not None:
            return self.outcome is CallOutcome.ANSWERED
        return self.answered_at is not None

    @property
    def settled(self) -> bool:
        """Answered, or left the queue: it counts as offered."""
        return self.answered or self.outcome is not None

    def wait(self) -> float | None:
        """Seconds in the queue until answered or left; None while still waiting."""
        if self.wait_seconds is not None and self.settled:
            return max(0.0, self.wait_seconds)
        until = (self.answered_at if self.answered else None) or (
            self.ended_at if self.outcome is not None else None
        )
        return max(0.0, (until - self.started_at).total_seconds()) if until else None

    def talk(self, now: datetime) -> float:
        """Seconds of conversation (so far, for a call still going on)."""
        if self.answered_at is None or not self.answered:
            return 0.0
        if self.talk_seconds is not None and self.ended_at is not None:
            return max(0.0, self.talk_seconds)
        return max(0.0, ((self.ended_at or now) - self.answered_at).total_seconds())


@dataclass(slots=True)
class QueueStats:
    queue: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandoned_within_threshold: int = 0
    timed_out: int = 0
    no_agent: int = 0
    failed: int = 0
    answered_within_threshold: int = 0
    total_answer_wait: float = 0.0
    longest_wait: float | None = None

    @property
    def service_level(self) -> float | None:
        """Percent answered within the threshold, short abandons left out; None: no calls."""
        base = self.offered - self.abandoned_within_threshold
        return round(100.0 * self.answered_within_threshold / base, 1) if base else None

    @property
    def abandon_rate(self) -> float | None:
        return round(100.0 * self.abandoned / self.offered, 1) if self.offered else None

    @property
    def average_speed_of_answer(self) -> float | None:
        return round(self.total_answer_wait / self.answered, 1) if self.answered else None

    def add(self, call: CountedCall, threshold: float) -> None:
        wait = call.wait()
        if not call.settled or wait is None:
            return
        self.offered += 1
        self.longest_wait = wait if self.longest_wait is None else max(self.longest_wait, wait)
        if call.answered:
            self.answered += 1
            self.total_answer_wait += wait
            self.answered_within_threshold += wait <= threshold
        elif call.outcome is CallOutcome.ABANDONED:
            self.abandoned += 1
            self.abandoned_within_threshold += wait <= threshold
        elif call.outcome is CallOutcome.NO_AGENT:
            self.no_agent += 1
        elif call.outcome is CallOutcome.FAILED:
            self.failed += 1
        else:
            self.timed_out += 1


def queue_stats(
    calls: Iterable[CountedCall], *, threshold_seconds: float, queues: Iterable[str] = ()
) -> list[QueueStats]:
    """Per queue, in name order; `queues` are listed even when they had no call."""
    result = {name: QueueStats(name) for name in queues}
    for call in calls:
        if call.queue:
            result.setdefault(call.queue, QueueStats(call.queue)).add(call, threshold_seconds)
    return [result[name] for name in sorted(result)]


@dataclass(slots=True)
class HourCounts:
    hour: int  # 0..23, local
    answered: int = 0
    abandoned: int = 0
    no_agent: int = 0


def calls_per_hour(calls: Iterable[CountedCall], *, day: date, tz: ZoneInfo) -> list[HourCounts]:
    """Queue calls answered, abandoned and lost for want of an agent in each local hour of
    `day`, by when they started."""
    hours = [HourCounts(hour) for hour in range(24)]
    for call in calls:
        local = call.started_at.astimezone(tz)
        if not call.queue or local.date() != day:
            continue
        if call.answered:
            hours[local.hour].answered += 1
        elif call.outcome is CallOutcome.ABANDONED:
            hours[local.hour].abandoned += 1
        elif call.outcome is CallOutcome.NO_AGENT:
            hours[local.hour].no_agent += 1
    return hours


@dataclass(slots=True)
class AgentCalls:
    agent_id: int
    handled: int = 0  # calls the agent answered (queue, direct or outbound)
    talk_seconds: float = 0.0


def agent_calls(calls: Iterable[CountedCall], *, now: datetime) -> dict[int, AgentCalls]:
    """Per agent: calls handled and talk time (a call still going on counts until now)."""
    result: dict[int, AgentCalls] = {}
    for call in calls:
        if call.agent_id is None or not call.answered:
            continue
        entry = result.setdefault(call.agent_id, AgentCalls(call.agent_id))
        entry.handled += 1
        entry.talk_seconds += call.talk(now)
    return result


def merge(stored: Iterable[CountedCall], newer: Iterable[CountedCall]) -> list[CountedCall]:
    """The stored calls with any newer view of the same call (the live tracker) taking over."""
    by_id = {c.linkedid: c for c in stored}
    by_id.update((c.linkedid, c) for c in newer)
    return list(by_id.values())
