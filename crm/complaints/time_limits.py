"""The complaint time limits (SPEC: 投诉处理时限) as pure functions of the receipt time.

From receipt: forwarded and signed for by the department in 3 hours; the department's
verification call in 24 hours; a solution proposed and the visit agreed in 24 hours; resolved
on site in 48 hours — a major complaint (compensation, or beyond the agent) on site within 2
working days; then customer service calls the customer back. A customer not satisfied sends
the complaint back to the department: the clocks start again from that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from crm.work_calendar import WorkCalendar


class Step(StrEnum):
    SIGNED = "signed"  # forwarded to the department and signed for
    VERIFIED = "verified"  # the department phoned the customer to verify
    SOLUTION = "solution"  # solution proposed and on-site visit agreed
    RESOLVED = "resolved"  # resolved on site
    CALLBACK = "callback"  # customer service called back after the resolution


STEPS = tuple(Step)


class TimeLimitState(StrEnum):
    DONE = "done"
    DONE_LATE = "done_late"
    RUNNING = "running"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    WAITING = "waiting"  # an earlier step is not done yet; no deadline for this one


@dataclass(frozen=True, slots=True)
class Limits:
    signed: timedelta = timedelta(hours=3)
    verified: timedelta = timedelta(hours=24)
    solution: timedelta = timedelta(hours=24)
    resolved: timedelta = timedelta(hours=48)
    major_on_site_working_days: int = 2
    callback: timedelta = timedelta(hours=24)  # after the resolution
    due_soon: float = 0.2  # the last fifth of a step's time counts as "about to be overdue"


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """One step's time limit as it stands at an instant: due when, done when, and how."""

    step: Step
    due_at: datetime | None
    done_at: datetime | None
    state: TimeLimitState


def deadlines(
    received_at: datetime,
    *,
    major: bool,
    limits: Limits,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    resolved_at: datetime | None = None,
) -> dict[Step, datetime | None]:
    """When each step is due, counted from receipt (or from reopening); the callback's from
    the resolution, so it has none until then."""
    local = received_at.astimezone(tz)
    if major:
        resolved = calendar.add_working_days(local, limits.major_on_site_working_days)
    else:
        resolved = local + limits.resolved
    return {
        Step.SIGNED: received_at + limits.signed,
        Step.VERIFIED: received_at + limits.verified,
        Step.SOLUTION: received_at + limits.solution,
        Step.RESOLVED: resolved,
        Step.CALLBACK: resolved_at + limits.callback if resolved_at else None,
    }


def time_limits(
    received_at: datetime,
    done: Mapping[Step, datetime | None],
    *,
    major: bool,
    now: datetime,
    limits: Limits,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> list[TimeLimit]:
    """Every step's time limit as it stands at `now`."""
    due = deadlines(
        received_at,
        major=major,
        limits=limits,
        calendar=calendar,
        tz=tz,
        resolved_at=done.get(Step.RESOLVED),
    )
    result = []
    for step in STEPS:
        done_at, due_at = done.get(step), due[step]
        if done_at is not None:
            state = TimeLimitState.DONE_LATE if due_at and done_at > due_at else TimeLimitState.DONE
        elif due_at is None:
            state = TimeLimitState.WAITING
        elif now > due_at:
            state = TimeLimitState.OVERDUE
        elif now >= due_at - (due_at - received_at) * limits.due_soon:
            state = TimeLimitState.DUE_SOON
        else:
            state = TimeLimitState.RUNNING
        result.append(TimeLimit(step, due_at, done_at, state))
    return result


def next_deadline(step_limits: list[TimeLimit]) -> datetime | None:
    """The earliest deadline of a step not yet done (what supervisors are warned about)."""
    open_deadlines = [c.due_at for c in step_limits if c.done_at is None and c.due_at]
    return min(open_deadlines) if open_deadlines else None
