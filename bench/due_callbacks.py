"""Due-callback selection: the next 100 tasks a campaign dials, among 100,000 projects.

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
from bench.data import bulk_insert, load_customers
from bench.databases import on_both
from crm.callbacks.models import CallbackTask, TaskStatus
from crm.callbacks.schedule import ScheduleRules, StageDates, plan_callbacks
from crm.campaigns import service as campaigns
from crm.db import Database
from crm.settings import load_settings
from crm.users import service as users
from crm.users.models import Role

GOAL_MS = 50.0
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
TODAY = date(2026, 11, 23)
PROJECT_COLUMNS = (
    "id",
    "customer_id",
    "contract_number",
    "address",
    "designer",
    "project_manager",
    "foreman",
    "crew",
    "contract_date",
    "start_date",
    "concealed_works_date",
    "midterm_date",
    "completion_date",
    "status",
    "created_at",
    "updated_at",
)
TASK_COLUMNS = (
    "id",
    "project_id",
    "stage",
    "month",
    "due_date",
    "latest_date",
    "priority",
    "status",
    "attempt_count",
    "not_before",
    "effective",
    "effective_at",
    "created_at",
    "updated_at",
)
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

    def __init__(self, projects: int, seed: int = 3) -> None:
        self.projects = projects
        self.rng = random.Random(seed)
        self.rules = ScheduleRules()
        self.now = datetime.now(UTC)
        self.tasks: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    def project_rows(self) -> Iterator[dict[str, Any]]:
        rng, task_id = self.rng, 0
        for i in range(self.projects):
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
                task_id += 1
                self.tasks.append(self._task(task_id, i + 1, planned, status == "cancelled"))

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
            self.attempts.append(
                {
                    "id": len(self.attempts) + 1,
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


async def _load(database: Database, projects: int) -> int:
    await load_customers(database, projects)
    book = _Book(projects)
    await bulk_insert(database, "projects", PROJECT_COLUMNS, book.project_rows())
    await bulk_insert(database, "callback_tasks", TASK_COLUMNS, book.tasks)
    await bulk_insert(database, "callback_attempts", ATTEMPT_COLUMNS, book.attempts)
    return len(book.tasks)


async def _measure(url: str, projects: int, repeats: int) -> dict[str, Any]:
    database = Database(url)
    settings = load_settings(database_url=url)
    try:
        with stopwatch() as load:
            tasks = await _load(database, projects)
        say(
            f"  [{database.dialect}] {projects:,} projects, {tasks:,} callback tasks loaded "
            f"in {load[0]:.1f} s"
        )
        async with database.session() as session:
            owner = await users.create(
                session,
                username="bench-supervisor",
                password="bench-pass-1",
                display_name="组长",
                role=Role.SUPERVISOR,
            )
            campaign = await campaigns.create(session, owner_id=owner.id, name="回访")
        baseline = (
            select(CallbackTask.id)
            .where(CallbackTask.status == TaskStatus.PENDING, CallbackTask.due_date <= TODAY)
            .order_by(CallbackTask.due_date)
            .limit(100)
        )
        async with database.session() as session:

            async def next_tasks(_: int) -> int:
                return len(
                    await campaigns.next_tasks(
                        session, campaign, settings=settings, now=NOW, limit=100
                    )
                )

            async def plain_query(_: int) -> None:
                (await session.execute(baseline)).all()

            for warm_up in range(3):
                await next_tasks(warm_up)
            real, plain, chosen_counts = await timed_pairs(range(repeats), next_tasks, plain_query)
        chosen = chosen_counts[-1]
        mine, base = latency_summary(real), latency_summary(plain)
        say(
            f"  [{database.dialect}] next_tasks(limit=100): p50 {mine['p50_ms']:.1f} ms, "
            f"p99 {mine['p99_ms']:.1f} ms, max {mine['max_ms']:.1f} ms ({chosen} tasks)"
        )
        say(
            f"  [{database.dialect}] plain indexed query: p50 {base['p50_ms']:.1f} ms, "
            f"p99 {base['p99_ms']:.1f} ms"
        )
        met = mine["p99_ms"] < GOAL_MS
        say(
            f"  [{database.dialect}] p99 {mine['p99_ms']:.1f} ms (goal < {GOAL_MS:g} ms): "
            f"{'met' if met else 'NOT met'}; "
            f"{ratio(mine['p50_ms'], base['p50_ms']):.1f}× the plain query (p50)"
        )
        return {
            "projects": projects,
            "tasks": tasks,
            "load_seconds": round(load[0], 1),
            "tasks_selected": chosen,
            "next_tasks": mine,
            "baseline": base,
            "ratio_p50": ratio(mine["p50_ms"], base["p50_ms"]),
            "goal_met": met,
        }
    finally:
        await database.dispose()


def run(quick: bool = False) -> dict[str, Any]:
    projects, repeats = (500, 5) if quick else (100_000, 40)
    say(f"Due-callback selection: {projects:,} projects, next 100 tasks of a campaign")
    results = on_both("bench_due", lambda url: _measure(url, projects, repeats))
    return finish("due_callbacks", {**results, "goal_ms": GOAL_MS})
