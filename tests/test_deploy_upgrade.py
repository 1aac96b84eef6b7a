"""Upgrading a populated database from the previous release, on SQLite and PostgreSQL: the
migrations keep every row, and keep the previous release working while its web processes
are replaced one at a time (README: Upgrades) — its tables and columns are all still there,
what it inserts still fits, what it reads still runs, and what it writes meanwhile is
understood by this release.

The previous release's schema is `migrations.PREVIOUS_RELEASE`'s: its models were that
schema exactly (tests/test_migrations.py held them to it), so the tables and columns
reflected there are the ones its queries name."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Connection, inspect, text

from crm.callbacks.models import CallbackTask, Stage
from crm.clock import FixedClock
from crm.complaints import service as complaints
from crm.complaints.models import Complaint
from crm.db import Database
from crm.demo.seed import seed
from crm.settings import Settings, load_settings
from migrations import PREVIOUS_RELEASE, downgrade, head_revision, upgrade
from tests.support.api import Api, running_app
from tests.support.records import seed_records
from tests.support.rows import found


@dataclass(frozen=True)
class Column:
    nullable: bool
    has_default: bool  # a server default: an INSERT that does not name it still works


Schema = dict[str, dict[str, Column]]


async def reflect(database_url: str) -> Schema:
    def read(connection: Connection) -> Schema:
        inspector = inspect(connection)
        return {
            table: {
                column["name"]: Column(column["nullable"], column.get("default") is not None)
                for column in inspector.get_columns(table)
            }
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }

    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await database.dispose()


async def select_as_previous_release(database_url: str, schema: Schema) -> dict[str, int]:
    """Each of its tables read with exactly its columns, as its ORM reads them: rows per
    table (a column gone would fail the SELECT)."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            counts = {}
            for table, columns in schema.items():
                names = ", ".join(f'"{name}"' for name in columns)
                rows = await connection.execute(text(f'SELECT {names} FROM "{table}"'))
                counts[table] = len(rows.all())
            return counts
    finally:
        await database.dispose()


async def resolve(api: Api, clock: FixedClock, complaint_id: object) -> None:
    """A complaint through its department's steps: resolved, its call back scheduled."""
    url = f"/api/complaints/{complaint_id}/steps"
    visit = (clock.now() + timedelta(days=1)).isoformat()
    for step, body in (
        ("signed", {"signed_by": "赵工"}),
        ("verified", {}),
        ("solution", {"solution": "返工", "visit_at": visit}),
        ("resolved", {"notes": "已修复"}),
    ):
        clock.advance(hours=1)
        answer = await api["supervisor"].post(f"{url}/{step}", json=body)
        assert answer.status_code == 200, answer.text


async def populate(database_url: str, settings: Settings, clock: FixedClock) -> None:
    """Demo data and one record of every kind, through the product's services and API."""
    database = Database(database_url)
    try:
        async with running_app(settings, database, clock=clock) as api:
            ids = await seed_records(api, database, clock.now())
            await resolve(api, clock, ids["complaint_id"])
        await seed(database, settings=settings, customers=40, today=clock.now().date(), force=True)
    finally:
        await database.dispose()


def test_the_previous_release_is_an_older_revision_of_this_chain() -> None:
    from alembic.script import ScriptDirectory

    from migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(""))
    chain = [s.revision for s in scripts.walk_revisions("base", "heads")]
    assert PREVIOUS_RELEASE in chain and head_revision() != PREVIOUS_RELEASE


async def test_a_populated_database_upgrades_from_the_previous_release(
    database_url: str, clock: FixedClock
) -> None:
    settings = load_settings(database_url=database_url, default_area_code="029")
    await populate(database_url, settings, clock)
    # The database as the previous release left it: its schema, the rows it had.
    await asyncio.to_thread(downgrade, database_url, PREVIOUS_RELEASE)
    previous = await reflect(database_url)
    before = await select_as_previous_release(database_url, previous)
    assert sum(1 for rows in before.values() if rows) >= 15, before

    await asyncio.to_thread(upgrade, database_url)
    current = await reflect(database_url)
    gone = [
        f"{table}.{name}"
        for table, columns in previous.items()
        for name in columns
        if name not in current.get(table, {})
    ]
    assert gone == [], "the previous release still reads these: drop them a release later"
    added_required = [
        f"{table}.{name}"
        for table, columns in previous.items()
        for name, column in current[table].items()
        if name not in columns and not column.nullable and not column.has_default
    ]
    assert added_required == [], "the previous release's INSERTs do not name these"
    assert await select_as_previous_release(database_url, previous) == before


async def test_a_complaint_call_back_the_previous_release_writes_is_understood(
    database_url: str, clock: FixedClock
) -> None:
    """During the upgrade an old web process resolves a complaint: it writes the call-back
    task naming its complaint (callback_tasks.complaint_id, month = the complaint's id), as
    it always did, and leaves complaints.callback_task_id empty. This release finds the link
    both ways, and the task's card names the complaint."""
    settings = load_settings(database_url=database_url, default_area_code="029")
    database = Database(database_url)
    try:
        async with running_app(settings, database, clock=clock) as api:
            ids = await seed_records(api, database, clock.now())
            complaint_id, project_id = ids["complaint_id"], ids["project_id"]
            async with database.engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO callback_tasks (project_id, stage, month, due_date, "
                        "latest_date, priority, status, attempt_count, effective, complaint_id, "
                        "created_at, updated_at) VALUES (:project, 'complaint', :complaint, "
                        ":due, :due, 2, 'pending', 0, false, :complaint, :now, :now)"
                    ),
                    {
                        "project": project_id,
                        "complaint": complaint_id,
                        "due": date(2026, 11, 24),
                        "now": clock.now().replace(tzinfo=None),
                    },
                )
            async with database.session() as session:
                complaint = found(await session.get(Complaint, complaint_id))
                assert complaint.callback_task_id is None
                task = await complaints.callback_task_of(session, complaint=complaint)
                assert task is not None and task.stage is Stage.COMPLAINT
                assert await complaints.called_back_by(session, task=task) == complaint
                assert await complaints.ids_by_callback_task(session, tasks=[task]) == {
                    task.id: complaint_id
                }
            cards = (await api["agent1"].get(f"/api/projects/{project_id}/callbacks")).json()
            (card,) = [c for c in cards if c["stage"] == "complaint"]
            assert card["complaint_id"] == complaint_id
            # Resolving it again in this release reuses the old process's task.
            await resolve(api, clock, complaint_id)
            async with database.session() as session:
                tasks = (
                    await session.scalars(
                        text("SELECT id FROM callback_tasks WHERE stage = 'complaint'")
                    )
                ).all()
                assert list(tasks) == [task.id]
                complaint = found(await session.get(Complaint, complaint_id))
                assert complaint.callback_task_id == task.id
    finally:
        await database.dispose()


async def test_this_release_writes_what_the_previous_one_reads(
    database_url: str, clock: FixedClock
) -> None:
    """A complaint this release resolves also names itself on its task, the column the
    previous release's web processes look it up by while they still run."""
    settings = load_settings(database_url=database_url, default_area_code="029")
    database = Database(database_url)
    try:
        async with running_app(settings, database, clock=clock) as api:
            ids = await seed_records(api, database, clock.now())
            await resolve(api, clock, ids["complaint_id"])
        async with database.session() as session:
            complaint = found(await session.get(Complaint, ids["complaint_id"]))
            task = found(await session.get(CallbackTask, complaint.callback_task_id))
            assert task.complaint_id == complaint.id
    finally:
        await database.dispose()


async def _health_at(database_url: str, settings: Settings, revision: str) -> tuple[int, dict]:
    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
            )
        async with running_app(settings, database) as api, api.anonymous() as client:
            health = await client.get("/healthz")
            metrics = (await client.get("/metrics")).text
        assert f"callcentre_database_ok {1.0 if health.status_code == 200 else 0.0}" in metrics
        return health.status_code, health.json()["database"]
    finally:
        await database.dispose()


async def test_a_process_stays_healthy_on_the_next_releases_schema(database_url: str) -> None:
    """While the next release is rolled out its migrations run first: this release's web
    processes keep serving and /healthz says to replace them, instead of a 503 that would
    take them all out of the load balancer at once. A schema this code knows to be older is
    still an error: the migrations were not run."""
    settings = load_settings(database_url=database_url)
    status, database = await _health_at(database_url, settings, "9001")
    assert status == 200 and database["ok"] is True
    assert "newer" in database["note"] and "error" not in database
    status, database = await _health_at(database_url, settings, PREVIOUS_RELEASE)
    assert status == 503 and database["ok"] is False
    assert "callcentre db upgrade" in database["error"]


def test_the_command_rolls_the_schema_back_to_the_previous_release(tmp_path: Path) -> None:
    """`callcentre db upgrade`, then `db downgrade PREVIOUS_RELEASE` (README: Upgrades, rolling
    back); an unknown revision is refused before anything runs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    env["CALLCENTRE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}"

    def callcentre(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "web.cli", "db", *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
        )  # fmt: skip

    assert callcentre("upgrade").returncode == 0
    refused = callcentre("downgrade", "9001")
    assert refused.returncode == 2 and "9001" in refused.stderr
    rolled_back = callcentre("downgrade", PREVIOUS_RELEASE)
    assert rolled_back.returncode == 0, rolled_back.stderr
    with sqlite3.connect(tmp_path / "cc.db") as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == PREVIOUS_RELEASE
