"""Alembic migrations and the models agree, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from crm.db import Database
from crm.models import Base
from migrations import downgrade, upgrade


def _diff(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations_match_models(database_url: str) -> None:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            differences = await connection.run_sync(_diff)
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await database.dispose()
    assert differences == []
    assert set(Base.metadata.tables) <= tables


async def test_downgrade_to_base_and_back(database_url: str) -> None:
    await asyncio.to_thread(downgrade, database_url, "base")
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
    finally:
        await database.dispose()
    await asyncio.to_thread(upgrade, database_url)


async def test_calls_stored_before_0007_answer_only_when_answered(database_url: str) -> None:
    """Rows the old bridge wrote for an abandoned call (the PBX's Answer() taken for an answer,
    header-only recordings, a waiting job) are made to agree with their outcome."""
    await asyncio.to_thread(downgrade, database_url, "0006")
    database = Database(database_url)
    started = datetime(2026, 12, 1, 10, 0)
    try:
        async with database.engine.begin() as connection:
            for linkedid, outcome in (("1.1", "abandoned"), ("2.1", "answered")):
                await connection.execute(
                    text(
                        "INSERT INTO calls (pbx_id, linkedid, direction, agents_rung, outcome, "
                        "started_at, answered_at, ended_at, talk_seconds, recording, "
                        "recording_agent, recording_customer, end_inferred, created_at, "
                        "updated_at) VALUES ('default', :linkedid, 'inbound', '[]', :outcome, "
                        ":t, :t, :t, 6, 'm.wav', 'a.wav', 'c.wav', false, :t, :t)"
                    ),
                    {"linkedid": linkedid, "outcome": outcome, "t": started},
                )
                await connection.execute(
                    text(
                        "INSERT INTO transcription_jobs (call_id, status, attempts, created_at, "
                        "updated_at) SELECT id, 'queued', 0, :t, :t FROM calls "
                        "WHERE linkedid = :linkedid"
                    ),
                    {"linkedid": linkedid, "t": started},
                )
        await asyncio.to_thread(upgrade, database_url)
        async with database.engine.connect() as connection:
            rows = {
                r.linkedid: r
                for r in await connection.execute(
                    text(
                        "SELECT linkedid, answered_at, talk_seconds, recording_agent, "
                        "(SELECT count(*) FROM transcription_jobs j WHERE j.call_id = calls.id) "
                        "AS jobs FROM calls"
                    )
                )
            }
    finally:
        await database.dispose()
    abandoned, answered = rows["1.1"], rows["2.1"]
    assert (abandoned.answered_at, abandoned.talk_seconds, abandoned.recording_agent) == (
        None, None, None,
    )  # fmt: skip
    assert abandoned.jobs == 0
    assert answered.answered_at is not None and answered.recording_agent == "a.wav"
    assert answered.jobs == 1


async def _rows(connection, sql: str) -> list:  # type: ignore[no-untyped-def]
    return list(await connection.execute(text(sql)))


async def test_complaint_call_backs_before_0010_move_to_their_complaint(database_url: str) -> None:
    """Complaint ids kept in callback tasks (in `complaint_id` and in `month`) move to the
    complaint's `callback_task_id`; `month` is 0 again; nothing else moves, and back."""
    await asyncio.to_thread(downgrade, database_url, "0009")
    database = Database(database_url)
    t = datetime(2026, 12, 1, 10, 0)
    stamps = {"t": t, "d": t.date()}
    statements = (
        "INSERT INTO customers (id, name, address, grade, notes, do_not_call, created_at, "
        "updated_at) VALUES (1, '王芳', '雁塔区', 'B', '', false, :t, :t)",
        "INSERT INTO projects (id, customer_id, contract_number, address, designer, "
        "project_manager, foreman, crew, status, created_at, updated_at) "
        "VALUES (1, 1, 'HT-1', '雁塔区', '', '', '', '', 'in_progress', :t, :t)",
        # The midterm callback, whose unsatisfied answer raised complaints 7 and 8.
        "INSERT INTO callback_tasks (id, project_id, stage, month, due_date, latest_date, "
        "priority, status, attempt_count, effective, created_at, updated_at) "
        "VALUES (1, 1, 'midterm', 0, :d, :d, 2, 'pending', 1, true, :t, :t)",
        "INSERT INTO callback_attempts (id, task_id, made_by, started_at, outcome, notes, "
        "created_at, updated_at) VALUES (1, 1, 'agent', :t, 'effective', '', :t, :t)",
        *(
            "INSERT INTO complaints (id, customer_id, project_id, source, attempt_id, "
            "department, category, description, customer_demand, grade, status, received_at, "
            f"clocks_from, reopened, created_at, updated_at) VALUES ({n}, 1, 1, 'callback', 1, "
            f"'工程部', 'quality', '墙面开裂', '', 'general', 'resolved', :t, :t, 0, :t, :t)"
            for n in (7, 8)
        ),
        "INSERT INTO complaint_events (complaint_id, at, kind, detail) "
        "VALUES (7, :t, 'opened', '{}')",
        # Each resolved complaint's call back, on the same project: the complaint id in month.
        *(
            "INSERT INTO callback_tasks (id, project_id, stage, month, complaint_id, due_date, "
            "latest_date, priority, status, attempt_count, effective, created_at, updated_at) "
            f"VALUES ({task}, 1, 'complaint', {complaint}, {complaint}, :d, :d, 1, 'pending', "
            "0, false, :t, :t)"
            for task, complaint in ((2, 7), (3, 8))
        ),
        "INSERT INTO callback_attempts (id, task_id, made_by, started_at, notes, created_at, "
        "updated_at) VALUES (2, 3, 'campaign', :t, '', :t, :t)",
    )
    tasks = "SELECT id, stage, month FROM callback_tasks ORDER BY id"
    try:
        async with database.engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement), stamps)
        await asyncio.to_thread(upgrade, database_url)
        async with database.engine.connect() as connection:
            links = await _rows(connection, "SELECT id, callback_task_id FROM complaints")
            upgraded = await _rows(connection, tasks)
            attempts = await _rows(connection, "SELECT id, task_id FROM callback_attempts")
            columns = await connection.run_sync(
                lambda c: {column["name"] for column in inspect(c).get_columns("callback_tasks")}
            )
        await asyncio.to_thread(downgrade, database_url, "0009")
        async with database.engine.connect() as connection:
            restored = await _rows(
                connection, "SELECT id, stage, month, complaint_id FROM callback_tasks ORDER BY id"
            )
    finally:
        await database.dispose()
    assert sorted(links) == [(7, 2), (8, 3)]
    assert upgraded == [(1, "midterm", 0), (2, "complaint", 0), (3, "complaint", 0)]
    assert "complaint_id" not in columns
    assert sorted(attempts) == [(1, 1), (2, 3)]
    assert restored == [(1, "midterm", 0, None), (2, "complaint", 7, 7), (3, "complaint", 8, 8)]
