"""The construction-stage callback schedule as pure functions: planning, validation, reconciling."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from crm.callbacks.models import Stage, TaskStatus
from crm.callbacks.schedule import (
    PlannedCallback,
    ScheduleRules,
    StageCallback,
    StageDates,
    add_months,
    check_stage_dates,
    missing_effective_stages,
    plan_callbacks,
    reconcile,
)
from crm.projects.models import ProjectStatus
from crm.settings import load_settings

RULES = ScheduleRules(window_days=3, post_completion_months=2)
DATES = StageDates(
    contract=date(2026, 3, 1),
    start=date(2026, 3, 10),
    concealed_works=date(2026, 3, 25),
    midterm=date(2026, 4, 20),
    completion=date(2026, 5, 31),
)


@dataclass
class Task:
    id: int
    stage: Stage
    month: int
    due_date: date
    latest_date: date
    status: TaskStatus = TaskStatus.PENDING


def tasks_from(plan: list[PlannedCallback]) -> list[Task]:
    return [Task(i, p.stage, p.month, p.due_date, p.latest_date) for i, p in enumerate(plan, 1)]


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 5, 31), 1, date(2026, 6, 30)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
        (date(2026, 5, 31), 12, date(2027, 5, 31)),
    ],
)
def test_add_months_clamps_to_month_end(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_plan_has_one_callback_per_stage_then_monthly() -> None:
    plan = plan_callbacks(DATES, RULES)
    assert [(p.stage, p.month, p.due_date, p.latest_date) for p in plan] == [
        (Stage.START, 0, date(2026, 3, 10), date(2026, 3, 13)),
        (Stage.CONCEALED_WORKS, 0, date(2026, 3, 25), date(2026, 3, 28)),
        (Stage.MIDTERM, 0, date(2026, 4, 20), date(2026, 4, 23)),
        (Stage.COMPLETION, 0, date(2026, 5, 31), date(2026, 6, 3)),
        (Stage.POST_COMPLETION, 1, date(2026, 6, 30), date(2026, 7, 3)),
        (Stage.POST_COMPLETION, 2, date(2026, 7, 31), date(2026, 8, 3)),
    ]


def test_offsets_and_window_come_from_settings() -> None:
    settings = load_settings(
        callback_offset_start_days=2,
        callback_offset_midterm_days=-1,
        callback_window_days=5,
        post_completion_months=0,
    )
    plan = plan_callbacks(DATES, ScheduleRules.from_settings(settings))
    by_stage = {p.stage: p for p in plan}
    assert by_stage[Stage.START].due_date == date(2026, 3, 12)
    assert by_stage[Stage.START].latest_date == date(2026, 3, 17)
    assert by_stage[Stage.MIDTERM].due_date == date(2026, 4, 19)
    assert Stage.POST_COMPLETION not in by_stage


def test_default_settings_plan_twelve_monthly_callbacks() -> None:
    plan = plan_callbacks(DATES, ScheduleRules.from_settings(load_settings()))
    assert [p.month for p in plan if p.stage is Stage.POST_COMPLETION] == list(range(1, 13))


def test_stages_without_dates_are_not_planned() -> None:
    plan = plan_callbacks(StageDates(start=date(2026, 3, 10)), RULES)
    assert [p.stage for p in plan] == [Stage.START]


def test_dates_in_order_pass() -> None:
    assert check_stage_dates(DATES, ProjectStatus.COMPLETED) == []
    assert check_stage_dates(StageDates(start=date(2026, 3, 1), midterm=date(2026, 3, 1))) == []


def test_out_of_order_dates_name_the_field_and_both_dates() -> None:
    problems = check_stage_dates(
        StageDates(start=date(2026, 3, 10), concealed_works=date(2026, 3, 5))
    )
    assert len(problems) == 1
    assert problems[0].field == "concealed_works_date"
    assert problems[0].code == "stage_dates_out_of_order"
    assert "2026-03-05" in problems[0].message and "2026-03-10" in problems[0].message


def test_order_is_checked_across_missing_stages() -> None:
    problems = check_stage_dates(
        StageDates(start=date(2026, 3, 10), midterm=None, completion=date(2026, 3, 1))
    )
    assert [p.field for p in problems] == ["completion_date"]


def test_start_before_contract_is_rejected() -> None:
    problems = check_stage_dates(StageDates(contract=date(2026, 3, 10), start=date(2026, 3, 1)))
    assert [p.field for p in problems] == ["start_date"]


def test_completed_project_needs_completion_date() -> None:
    problems = check_stage_dates(StageDates(start=date(2026, 3, 10)), ProjectStatus.COMPLETED)
    assert [p.code for p in problems] == ["completion_date_required"]


def test_reconcile_creates_everything_for_a_new_project() -> None:
    plan = plan_callbacks(DATES, RULES)
    result = reconcile([], plan)
    assert result.create == plan and not (result.move or result.cancel or result.reopen)


def test_unchanged_dates_change_nothing() -> None:
    plan = plan_callbacks(DATES, RULES)
    assert not reconcile(tasks_from(plan), plan).changed


def test_moved_midterm_moves_only_open_tasks() -> None:
    tasks = tasks_from(plan_callbacks(DATES, RULES))
    tasks[0].status = TaskStatus.DONE  # start callback done: history
    moved = StageDates(
        contract=DATES.contract,
        start=date(2026, 3, 12),
        concealed_works=DATES.concealed_works,
        midterm=date(2026, 4, 28),
        completion=DATES.completion,
    )
    result = reconcile(tasks, plan_callbacks(moved, RULES))
    assert [(task_id, p.stage, p.due_date) for task_id, p in result.move] == [
        (3, Stage.MIDTERM, date(2026, 4, 28))
    ]
    assert result.create == [] and result.cancel == []


def test_cleared_stage_date_cancels_its_open_task() -> None:
    tasks = tasks_from(plan_callbacks(DATES, RULES))
    cleared = StageDates(
        contract=DATES.contract,
        start=DATES.start,
        concealed_works=DATES.concealed_works,
        midterm=DATES.midterm,
    )
    result = reconcile(tasks, plan_callbacks(cleared, RULES))
    cancelled = {t.stage for t in tasks if t.id in result.cancel}
    assert cancelled == {Stage.COMPLETION, Stage.POST_COMPLETION}


def test_cancelled_project_cancels_open_tasks_but_not_done_ones() -> None:
    tasks = tasks_from(plan_callbacks(DATES, RULES))
    tasks[0].status = TaskStatus.DONE
    result = reconcile(tasks, plan_callbacks(DATES, RULES), project_cancelled=True)
    assert result.cancel == [t.id for t in tasks[1:]]
    assert result.create == [] and result.move == []


def test_cancelled_task_is_reopened_when_its_date_returns() -> None:
    tasks = tasks_from(plan_callbacks(DATES, RULES))
    tasks[2].status = TaskStatus.CANCELLED
    result = reconcile(tasks, plan_callbacks(DATES, RULES))
    assert [task_id for task_id, _ in result.reopen] == [3]


def test_missing_effective_stages() -> None:
    today = date(2026, 4, 1)
    progress = [
        StageCallback(Stage.START, date(2026, 3, 13), True),
        StageCallback(Stage.CONCEALED_WORKS, date(2026, 3, 28), False),
        StageCallback(Stage.MIDTERM, date(2026, 4, 23), False),
    ]
    assert missing_effective_stages(ProjectStatus.IN_PROGRESS, progress, today) == [
        Stage.CONCEALED_WORKS
    ]
    # A completed project owes all four, whatever the dates say.
    assert missing_effective_stages(ProjectStatus.COMPLETED, progress, today) == [
        Stage.CONCEALED_WORKS,
        Stage.MIDTERM,
        Stage.COMPLETION,
    ]
    assert missing_effective_stages(ProjectStatus.CANCELLED, progress, today) == []
    # On the last day of the window the stage is not missing yet.
    assert missing_effective_stages(ProjectStatus.IN_PROGRESS, progress, date(2026, 3, 28)) == []
