"""When the wallboard's figures need a supervisor: callers waiting, the longest current wait
against the service level, the day's abandon rate, an agent paused too long — each with a
warning and an alarm level (crm/settings.py, docs/business-rules.md).

Pure: the figures of one snapshot and the instant in, the alerts out. `next_change` says when
the running clocks (waits, pauses) will cross a level with nothing else happening, and
`crossings` which alerts are new since the last look, so each crossing is pushed once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from crm.agents.models import AgentStatus
from crm.settings import Settings


class Level(StrEnum):
    WARN = "warn"
    ALERT = "alert"


LEVEL_RANK: dict[Level | None, int] = {None: 0, Level.WARN: 1, Level.ALERT: 2}


class Measure(StrEnum):
    CALLERS_WAITING = "callers_waiting"  # per queue, now
    LONGEST_WAIT = "longest_wait"  # per queue: the oldest waiting caller's wait so far, s
    ABANDON_RATE = "abandon_rate"  # per queue, today, percent of offered
    PAUSED_TOO_LONG = "paused_too_long"  # per agent: minutes in the current pause


@dataclass(frozen=True, slots=True)
class Limit:
    """A figure at or above `warn` warns; at or above `alert` alarms."""

    warn: float
    alert: float

    def level(self, value: float) -> Level | None:
        if value >= self.alert:
            return Level.ALERT
        if value >= self.warn:
            return Level.WARN
        return None

    def crossed(self, level: Level) -> float:
        return self.alert if level is Level.ALERT else self.warn


@dataclass(frozen=True, slots=True)
class Thresholds:
    callers_waiting: Limit
    longest_wait_seconds: Limit
    abandon_rate: Limit
    abandon_min_offered: int
    paused_minutes: Limit
    paused_minutes_by_reason: Mapping[str, Limit] = field(default_factory=dict)

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        longest = settings.alert_longest_wait_seconds
        assert longest is not None  # the settings fill it in from the service level
        return cls(
            callers_waiting=Limit(*settings.alert_callers_waiting),
            longest_wait_seconds=Limit(*longest),
            abandon_rate=Limit(*settings.alert_abandon_rate),
            abandon_min_offered=settings.alert_abandon_min_offered,
            paused_minutes=Limit(*settings.alert_paused_minutes),
            paused_minutes_by_reason={
                reason: Limit(*pair)
                for reason, pair in settings.alert_paused_minutes_by_reason.items()
            },
        )

    def paused(self, reason: str | None) -> Limit:
        """The limit of a pause for this reason (a reason allowed longer, or the general one)."""
        return self.paused_minutes_by_reason.get(reason or "", self.paused_minutes)


@dataclass(frozen=True, slots=True)
class QueueNow:
    """One queue's figures as the wallboard shows them."""

    queue: str
    waiting: int
    oldest_waiting_since: datetime | None
    offered: int
    abandon_rate: float | None


@dataclass(frozen=True, slots=True)
class AgentNow:
    """One agent's state as the wallboard shows it (`status`: an AgentStatus or on_call)."""

    user_id: int
    name: str
    status: str
    reason: str | None
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Alert:
    measure: Measure
    level: Level
    value: float  # the figure now (a count, seconds, a percentage or minutes)
    limit: float  # the level it reached
    queue: str | None = None
    agent_id: int | None = None
    agent_name: str | None = None
    reason: str | None = None  # the agent's pause reason

    @property
    def key(self) -> str:
        """What it is about: one queue's or one agent's measure, whatever its level."""
        subject = self.queue if self.queue is not None else f"agent:{self.agent_id}"
        return f"{self.measure.value}:{subject}"


def _seconds_since(since: datetime, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds())


def _queue_alerts(queue: QueueNow, limits: Thresholds, now: datetime) -> list[Alert]:
    alerts = []
    measured: list[tuple[Measure, Limit, float | None]] = [
        (Measure.CALLERS_WAITING, limits.callers_waiting, float(queue.waiting)),
        (
            Measure.LONGEST_WAIT,
            limits.longest_wait_seconds,
            _seconds_since(queue.oldest_waiting_since, now)
            if queue.oldest_waiting_since is not None and queue.waiting
            else None,
        ),
        (
            Measure.ABANDON_RATE,
            limits.abandon_rate,
            queue.abandon_rate if queue.offered >= limits.abandon_min_offered else None,
        ),
    ]
    for measure, limit, value in measured:
        level = limit.level(value) if value is not None else None
        if level is not None and value is not None:
            alerts.append(Alert(measure, level, round(value, 1), limit.crossed(level), queue.queue))
    return alerts


def _agent_alert(agent: AgentNow, limits: Thresholds, now: datetime) -> Alert | None:
    if agent.status != AgentStatus.PAUSED.value or agent.since is None:
        return None
    minutes = _seconds_since(agent.since, now) / 60
    limit = limits.paused(agent.reason)
    level = limit.level(minutes)
    if level is None:
        return None
    return Alert(
        Measure.PAUSED_TOO_LONG,
        level,
        round(minutes, 1),
        limit.crossed(level),
        agent_id=agent.user_id,
        agent_name=agent.name,
        reason=agent.reason,
    )


def evaluate(
    queues: Iterable[QueueNow], agents: Iterable[AgentNow], limits: Thresholds, now: datetime
) -> list[Alert]:
    """Every figure at or past a level now: queues in the order given, then agents."""
    alerts = [alert for queue in queues for alert in _queue_alerts(queue, limits, now)]
    for agent in agents:
        alert = _agent_alert(agent, limits, now)
        if alert is not None:
            alerts.append(alert)
    return alerts


def next_change(
    queues: Iterable[QueueNow], agents: Iterable[AgentNow], limits: Thresholds, now: datetime
) -> datetime | None:
    """The first instant after `now` at which a running clock reaches a level it has not yet:
    the oldest caller's wait, an agent's pause. None if no clock runs toward one."""
    upcoming: list[datetime] = []

    def ahead(since: datetime, marks: Sequence[timedelta]) -> None:
        upcoming.extend(since + mark for mark in marks if since + mark > now)

    for queue in queues:
        if queue.waiting and queue.oldest_waiting_since is not None:
            limit = limits.longest_wait_seconds
            ahead(
                queue.oldest_waiting_since,
                (timedelta(seconds=limit.warn), timedelta(seconds=limit.alert)),
            )
    for agent in agents:
        if agent.status == AgentStatus.PAUSED.value and agent.since is not None:
            limit = limits.paused(agent.reason)
            ahead(agent.since, (timedelta(minutes=limit.warn), timedelta(minutes=limit.alert)))
    return min(upcoming, default=None)


class Leveled(Protocol):
    """An alert as any layer carries it: what it is about, and how high it is."""

    @property
    def key(self) -> str: ...

    @property
    def level(self) -> Level: ...


L = TypeVar("L", bound=Leveled)


def crossings(previous: Mapping[str, Level], alerts: Iterable[L]) -> list[L]:
    """The alerts that rose since the last look (`previous`: each key's level then; a key
    missing was below both): a new warning, an alarm. Staying, or falling back, says nothing;
    falling below and rising again is a new crossing."""
    return [
        alert for alert in alerts if LEVEL_RANK[alert.level] > LEVEL_RANK[previous.get(alert.key)]
    ]


def levels(alerts: Iterable[Leveled]) -> dict[str, Level]:
    """Each key's level now: what `crossings` compares the next look with."""
    return {alert.key: alert.level for alert in alerts}
