"""The construction-stage callback schedule (在施工程回访制度), as pure functions.

Given a project's stage dates, the rules say which callbacks are due and when; `reconcile`
says how to bring a project's existing tasks in line after its dates change, without ever
touching the history of tasks already done.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from typing import Any, Protocol

from crm.callbacks.models import CONSTRUCTION_STAGES, OPEN_STATUSES, Stage, TaskStatus
from crm.errors import Problem
from crm.projects.models import ProjectStatus
from crm.settings import Settings

STAGE_LABELS = {
    Stage.START: "start",
    Stage.CONCEALED_WORKS: "concealed works",
    Stage.MIDTERM: "midterm",
    Stage.COMPLETION: "completion",
}


@dataclass(frozen=True, slots=True)
class StageDates:
    contract: date | None = None
    start: date | None = None
    concealed_works: date | None = None
    midterm: date | None = None
    completion: date | None = None

    def of(self, stage: Stage) -> date | None:
        return getattr(self, stage.value) if stage in CONSTRUCTION_STAGES else None

    @classmethod
    def of_project(cls, project: object | Mapping[str, Any]) -> StageDates:
        """From a Project row, or from a mapping of its column names (values being validated)."""
        get = project.get if isinstance(project, Mapping) else partial(getattr, project)
        return cls(
            contract=get("contract_date"),
            start=get("start_date"),
            concealed_works=get("concealed_works_date"),
            midterm=get("midterm_date"),
            completion=get("completion_date"),
        )


@dataclass(frozen=True, slots=True)
class ScheduleRules:
    offset_days: Mapping[Stage, int] = field(default_factory=dict)
    window_days: int = 3
    post_completion_months: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> ScheduleRules:
        return cls(
            offset_days={s: settings.stage_offset_days(s.value) for s in CONSTRUCTION_STAGES},
            window_days=settings.callback_window_days,
            post_completion_months=settings.post_completion_months,
        )


@dataclass(frozen=True, slots=True)
class PlannedCallback:
    stage: Stage
    month: int
    due_date: date
    latest_date: date

    @property
    def key(self) -> tuple[Stage, int]:
        return (self.stage, self.month)


class ExistingTask(Protocol):
    id: int
    stage: Stage
    month: int
    due_date: date
    latest_date: date
    status: TaskStatus


@dataclass(slots=True)
class Reconciliation:
    create: list[PlannedCallback] = field(default_factory=list)
    move: list[tuple[int, PlannedCallback]] = field(default_factory=list)
    reopen: list[tuple[int, PlannedCallback]] = field(default_factory=list)
    cancel: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.create or self.move or self.reopen or self.cancel)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_stage_dates(dates: StageDates, status: ProjectStatus | None = None) -> list[Problem]:
    """Stage dates must follow the order of the works; a completed project needs its date."""
    problems: list[Problem] = []
    ordered: list[tuple[str, str, date | None]] = [("contract_date", "contract", dates.contract)]
    ordered += [(f"{s.value}_date", STAGE_LABELS[s], dates.of(s)) for s in CONSTRUCTION_STAGES]
    for i, (name, label, day) in enumerate(ordered):
        if day is None:
            continue
        for earlier_name, earlier_label, earlier in ordered[:i]:
            if earlier is not None and day < earlier:
                problems.append(
                    Problem(
                        name,
                        "stage_dates_out_of_order",
                        f"the {label} date {day.isoformat()} is before the "
                        f"{earlier_label} date {earlier.isoformat()}",
                        {
                            "date": day.isoformat(),
                            "earlier_field": earlier_name,
                            "earlier_date": earlier.isoformat(),
                        },
                    )
                )
                break
    if status is ProjectStatus.COMPLETED and dates.completion is None:
        problems.append(
            Problem(
                "completion_date",
                "completion_date_required",
                "a completed project needs its completion date",
            )
        )
    return problems


def plan_callbacks(dates: StageDates, rules: ScheduleRules) -> list[PlannedCallback]:
    """Every callback a project with these dates should have, in due order."""
    window = timedelta(days=rules.window_days)
    planned: list[PlannedCallback] = []
    for stage in CONSTRUCTION_STAGES:
        day = dates.of(stage)
        if day is None:
            continue
        due = day + timedelta(days=rules.offset_days.get(stage, 0))
        planned.append(PlannedCallback(stage, 0, due, due + window))
    if dates.completion is not None:
        base = dates.completion + timedelta(days=rules.offset_days.get(Stage.COMPLETION, 0))
        for month in range(1, rules.post_completion_months + 1):
            due = add_months(base, month)
            planned.append(PlannedCallback(Stage.POST_COMPLETION, month, due, due + window))
    return planned


def reconcile(
    existing: Iterable[ExistingTask],
    planned: Iterable[PlannedCallback],
    *,
    project_cancelled: bool = False,
) -> Reconciliation:
    """What to create, move, reopen and cancel so the tasks match the plan.

    Done tasks are history and are never touched; open tasks follow the dates; tasks whose
    stage date disappeared are cancelled (their attempts stay); a cancelled project cancels
    every open task.
    """
    result = Reconciliation()
    by_key = {(t.stage, t.month): t for t in existing}
    open_states = OPEN_STATUSES
    if project_cancelled:
        result.cancel = [t.id for t in by_key.values() if t.status in open_states]
        return result
    wanted = {p.key: p for p in planned}
    for key, plan in wanted.items():
        task = by_key.get(key)
        if task is None:
            result.create.append(plan)
        elif task.status in open_states:
            if (task.due_date, task.latest_date) != (plan.due_date, plan.latest_date):
                result.move.append((task.id, plan))
        elif task.status is TaskStatus.CANCELLED:
            result.reopen.append((task.id, plan))
    result.cancel = [
        t.id for key, t in by_key.items() if key not in wanted and t.status in open_states
    ]
    return result


@dataclass(frozen=True, slots=True)
class StageCallback:
    """A project's callback for one construction stage: the last day of its window, and
    whether an effective callback was made."""

    stage: Stage
    latest_date: date | None
    effective: bool


def missing_effective_stages(
    status: ProjectStatus, stage_callbacks: Iterable[StageCallback], today: date
) -> list[Stage]:
    """Construction stages lacking the effective callback the manual requires ("at least 4").

    A stage is missing once its callback window has passed without an effective callback, or,
    for a completed project, whenever it has none. Cancelled projects owe nothing.
    """
    if status is ProjectStatus.CANCELLED:
        return []
    by_stage = {c.stage: c for c in stage_callbacks}
    missing = []
    for stage in CONSTRUCTION_STAGES:
        item = by_stage.get(stage)
        if item is not None and item.effective:
            continue
        overdue = item is not None and item.latest_date is not None and item.latest_date < today
        if status is ProjectStatus.COMPLETED or overdue:
            missing.append(stage)
    return missing
