"""Due-callback selection: the next 100 tasks a campaign dials, at 1,000, 10,000 and 100,000
projects (one database grown in steps), so the curve shows it stays flat.

Real path: `crm.campaigns.service.next_tasks` (due and overdue stage callbacks in dialing
order, skipping do-not-call customers, cancelled projects, tasks at their attempt limits
today or in total, resting numbers; the customer's best number). Baseline: the plain indexed
`SELECT id FROM callback_tasks WHERE status = 'pending' AND due_date <= today ORDER BY
due_date LIMIT 100`. Both on SQLite and PostgreSQL, with every project's schedule as
`crm.callbacks.schedule.plan_callbacks` makes it (4 stages + 12 monthly callbacks).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bench.common import finish, latency_summary, ratio, say, stopwatch, timed_pairs
from bench.data import PROJECT_COLUMNS, TASK_COLUMNS, bulk_insert, load_customers
from bench.databases import on_both
from crm.callbacks.models import CallbackTask, TaskStatus
from crm.callbacks.schedule import ScheduleRules, StageDates, plan_callbacks
from crm.campaigns import service as campaigns
from crm.campaigns.models import Campaign
from crm.db import Database
from crm.settings import Settings, load_settings
from crm.users import service as users
from crm.users.models import Role

GOAL_MS = 10.0  # p99 at the largest size
SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (200, 500)
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
TODAY = date(2026, 11, 23)
ATTEMPT_COLUMNS = (
    "id",
    "task_id",
    "made_by",
    "agent_id",
    "campaign_id",
    "started_at",
    "call_id",
    "outcome",
    "notes",
    "dialed_number",
    "created_at",
    "updated_at",
)


class _Book:
    """Projects started over the last two years and the coming two months, their callback
    tasks (done when long past, mostly pending when due now), and today's attempts."""

    def __init__(self, seed: int = 3) -> None:
        self.rng = random.Random(seed)
        self.rules = ScheduleRules()
        self.now = datetime.now(UTC)
        self.task_id = 0
        self.attempt_id = 0
        self.tasks: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    def project_rows(self, first: int, stop: int) -> Iterator[dict[str, Any]]:
        """Projects `first` to `stop` (indexes); their tasks and attempts land in `tasks` and
        `attempts` (emptied first), ids going on from the previous call's."""
        rng = self.rng
        self.tasks, self.attempts = [], []
        for i in range(first, stop):
            start = TODAY + timedelta(days=rng.randint(-730, 60))
            dates = StageDates(
                contract=start - timedelta(days=10),
                start=start,
                concealed_works=start + timedelta(days=20),
                midterm=start + timedelta(days=45),
                completion=start + timedelta(days=90),
            )
            assert dates.completion is not None
            status = (
                "cancelled"
                if i % 50 == 7
                else "completed"
                if dates.completion < TODAY
                else "in_progress"
                if start <= TODAY
                else "signed"
            )
            yield {
                "id": i + 1,
                "customer_id": i + 1,
                "contract_number": f"HT{i + 1:08d}",
                "address": "",
                "designer": "",
                "project_manager": "",
                "foreman": "",
                "crew": "",
                "contract_date": dates.contract,
                "start_date": dates.start,
                "concealed_works_date": dates.concealed_works,
                "midterm_date": dates.midterm,
                "completion_date": dates.completion,
                "status": status,
                "created_at": self.now,
                "updated_at": self.now,
            }
            for planned in plan_callbacks(dates, self.rules):
                self.task_id += 1
                self.tasks.append(self._task(self.task_id, i + 1, planned, status == "cancelled"))

    def _task(self, task_id: int, project_id: int, planned: Any, cancelled: bool) -> dict[str, Any]:
        late = (TODAY - planned.latest_date).days
        if cancelled:
            status = TaskStatus.CANCELLED
        elif planned.due_date > TODAY:
            status = TaskStatus.PENDING
        else:  # long past: nearly all done; recent: a fifth done already
            status = (
                TaskStatus.DONE
                if self.rng.random() < (0.97 if late > 30 else 0.2)
                else TaskStatus.PENDING
            )
        done = status is TaskStatus.DONE
        attempts = 0
        if status is TaskStatus.PENDING and planned.due_date <= TODAY and self.rng.random() < 0.05:
            attempts = 1
            self.attempt_id += 1
            self.attempts.append(
                {
                    "id": self.attempt_id,
                    "task_id": task_id,
                    "made_by": "campaign",
                    "agent_id": None,
                    "campaign_id": None,
                    "started_at": NOW - timedelta(minutes=self.rng.randint(1, 90)),
                    "call_id": None,
                    "outcome": "no_answer",
                    "notes": "",
                    "dialed_number": None,
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        return {
            "id": task_id,
            "project_id": project_id,
            "stage": planned.stage.value,
            "month": planned.month,
            "due_date": planned.due_date,
            "latest_date": planned.latest_date,
            "priority": 1 + project_id % 3,
            "status": status.value,
            "attempt_count": attempts + (2 if done else 0),
            "not_before": None,
            "effective": done,
            "effective_at": self.now if done else None,
            "created_at": self.now,
            "updated_at": self.now,
        }


async def _load(database: Database, book: _Book, start: int, stop: int) -> None:
    """Projects `start` to `stop` (one customer each) with their tasks and attempts."""
    await load_customers(database, stop, start=start)
    await bulk_insert(database, "projects", PROJECT_COLUMNS, book.project_rows(start, stop))
    await bulk_insert(database, "callback_tasks", TASK_COLUMNS, book.tasks)
    await bulk_insert(database, "callback_attempts", ATTEMPT_COLUMNS, book.attempts)


async def _measure_size(
    database: Database, campaign: Campaign, settings: Settings, repeats: int
) -> dict[str, Any]:
    baseline = (
        select(CallbackTask.id)
        .where(CallbackTask.status == TaskStatus.PENDING, CallbackTask.due_date <= TODAY)
        .order_by(CallbackTask.due_date)
        .limit(100)
    )
    async with database.session() as session:

        async def next_tasks(_: int) -> int:
            return len(
                await campaigns.next_tasks(session, campaign, settings=settings, now=NOW, limit=100)
            )

        async def plain_query(_: int) -> None:
            (await session.execute(baseline)).all()

        for warm_up in range(3):
            await next_tasks(warm_up)
        real, plain, chosen_counts = await timed_pairs(range(repeats), next_tasks, plain_query)
    return {
        "tasks_selected": chosen_counts[-1],
        "next_tasks": latency_summary(real),
        "baseline": latency_summary(plain),
    }


async def _measure(url: str, sizes: tuple[int, ...], repeats: int) -> dict[str, Any]:
    database = Database(url)
    settings = load_settings(database_url=url)
    kind = database.dialect
    curve: list[dict[str, Any]] = []
    try:
        async with database.session() as session:
            owner = await users.create(
                session,
                username="bench-supervisor",
                password="bench-pass-1",
                display_name="组长",
                role=Role.SUPERVISOR,
            )
            campaign = await campaigns.create(session, owner_id=owner.id, name="回访")
        book, loaded = _Book(), 0
        for projects in sizes:
            with stopwatch() as load:
                await _load(database, book, loaded, projects)
            loaded = projects
            point = {
                "projects": projects,
                "tasks": book.task_id,
                "load_seconds": round(load[0], 1),
                **await _measure_size(database, campaign, settings, repeats),
            }
            point["ratio_p50"] = ratio(point["next_tasks"]["p50_ms"], point["baseline"]["p50_ms"])
            curve.append(point)
            mine, base = point["next_tasks"], point["baseline"]
            say(
                f"  [{kind}] {projects:>7,} projects, {book.task_id:>9,} tasks (+{load[0]:.1f} s "
                f"to load): next_tasks(limit=100) p50 {mine['p50_ms']:.1f} ms, "
                f"p99 {mine['p99_ms']:.1f} ms, max {mine['max_ms']:.1f} ms "
                f"({point['tasks_selected']} tasks); plain query p50 {base['p50_ms']:.1f} ms, "
                f"p99 {base['p99_ms']:.1f} ms"
            )
    finally:
        await database.dispose()
    largest = curve[-1]
    met = largest["next_tasks"]["p99_ms"] < GOAL_MS
    say(
        f"  [{kind}] p99 {largest['next_tasks']['p99_ms']:.1f} ms at {largest['projects']:,} "
        f"projects (goal < {GOAL_MS:g} ms): {'met' if met else 'NOT met'}; "
        f"{largest['ratio_p50']:.1f}× the plain query (p50)"
    )
    return {**largest, "curve": curve, "goal_met": met}


def curve_table(results: dict[str, Any]) -> list[str]:
    """The curve as a Markdown table: one row per database and size."""
    lines = [
        "| database | projects | tasks | p50 ms | p99 ms | max ms | plain query p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        for point in results[kind]["curve"]:
            mine, base = point["next_tasks"], point["baseline"]
            lines.append(
                f"| {kind} | {point['projects']:,} | {point['tasks']:,} | {mine['p50_ms']:.1f} | "
                f"{mine['p99_ms']:.1f} | {mine['max_ms']:.1f} | "
                f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f} |"
            )
    return lines


def run(quick: bool = False) -> dict[str, Any]:
    sizes, repeats = (QUICK_SIZES, 5) if quick else (SIZES, 40)
    say(
        f"Due-callback selection: {', '.join(f'{s:,}' for s in sizes)} projects, next 100 "
        "tasks of a campaign at each size"
    )
    results = on_both("bench_due", lambda url: _measure(url, sizes, repeats))
    for line in curve_table(results):
        say(line)
    return finish("due_callbacks", {**results, "goal_ms": GOAL_MS})
