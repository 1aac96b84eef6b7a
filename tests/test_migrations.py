"""Alembic migrations and the models agree, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

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


async def _rows(connection: AsyncConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await connection.execute(text(sql))]


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
            referred = await connection.run_sync(
                lambda c: {
                    key["referred_table"] for key in inspect(c).get_foreign_keys("callback_tasks")
                }
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
    # Kept for the previous release's processes during an upgrade, but no link: no cycle.
    assert "complaint_id" in columns and "complaints" not in referred
    assert sorted(attempts) == [(1, 1), (2, 3)]
    assert restored == [(1, "midterm", 0, None), (2, "complaint", 7, 7), (3, "complaint", 8, 8)]


async def test_stored_evidence_sentences_become_kinds_in_0011_and_back(database_url: str) -> None:
    """Scores stored before 0011 hold English sentences; after it, kinds and parameters (a
    phrase not found has no time and, for the default scorecard, its set's key and Chinese
    label); downgrading writes the sentences again."""
    await asyncio.to_thread(downgrade, database_url, "0010")
    database = Database(database_url)
    t = datetime(2026, 12, 1, 10, 0)
    old = [
        {
            "id": "greeting",
            "passed": False,
            "points_lost": 2,
            "evidence": [
                {"leg": "agent", "start": 0.5, "end": 0.9, "text": "您 好"},
                {
                    "leg": "agent",
                    "start": 0.0,
                    "end": 10.0,
                    "text": "not found: own name or staff number",
                },
            ],
        },
        {
            "id": "answer_within_3_rings",
            "passed": False,
            "points_lost": 1,
            "evidence": [
                {
                    "leg": None,
                    "start": None,
                    "end": None,
                    "text": "answered after 20.0 s (limit 15 s)",
                }
            ],
        },
        {
            "id": "long_hold",
            "passed": False,
            "points_lost": 2,
            "evidence": [
                {
                    "leg": None,
                    "start": 12.2,
                    "end": 50.0,
                    "text": "silent 37.8 s with no hold announcement before it",
                },
                {
                    "leg": None,
                    "start": 60.0,
                    "end": 95.0,
                    "text": "silent 35.0 s after the hold announcement “请 稍等”",
                },
            ],
        },
        {
            "id": "customer_hangs_up_first",
            "passed": False,
            "points_lost": 1,
            "evidence": [
                {"leg": "agent", "start": None, "end": None, "text": "the agent hung up first"}
            ],
        },
    ]
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO calls (id, pbx_id, linkedid, direction, agents_rung, "
                    "agents_connected, started_at, end_inferred, created_at, updated_at) "
                    "VALUES (1, 'default', '1.1', 'inbound', '[]', '[]', :t, false, :t, :t)"
                ),
                {"t": t},
            )
            await connection.execute(
                text(
                    "INSERT INTO call_scores (call_id, score, max_score, points_lost, rules, "
                    "rules_version, rules_digest, scored_at, created_at, updated_at) "
                    "VALUES (1, 8, 14, 6, :rules, 'default-2026.11', 'x', :t, :t, :t)"
                ),
                {"t": t, "rules": json.dumps(old, ensure_ascii=False)},
            )
        await asyncio.to_thread(upgrade, database_url)
        async with database.engine.connect() as connection:
            [(stored,)] = await _rows(connection, "SELECT rules FROM call_scores")
        await asyncio.to_thread(downgrade, database_url, "0010")
        async with database.engine.connect() as connection:
            [(restored,)] = await _rows(connection, "SELECT rules FROM call_scores")
        await asyncio.to_thread(upgrade, database_url)
    finally:
        await database.dispose()
    stored = json.loads(stored) if isinstance(stored, str) else stored
    evidence = [item for rule in stored for item in rule["evidence"]]
    assert [e["kind"] for e in evidence] == [
        "said",
        "not_found",
        "ring_time",
        "silence",
        "silence_after_hold",
        "hung_up_first",
    ]
    assert evidence[0] == {
        "kind": "said",
        "leg": "agent",
        "start": 0.5,
        "end": 0.9,
        "params": {"words": "您 好"},
    }
    assert evidence[1] == {
        "kind": "not_found",
        "leg": "agent",
        "start": None,
        "end": None,
        "params": {
            "label": "自报姓名或工号",
            "set": "own_name",
            "first_seconds": 10.0,
            "last_seconds": None,
        },
    }
    assert evidence[2]["params"] == {"seconds": 20.0, "limit": 15.0}
    assert (evidence[3]["start"], evidence[3]["params"]) == (12.2, {"seconds": 37.8})
    assert evidence[4]["params"] == {"seconds": 35.0, "said": "请 稍等"}
    assert evidence[5]["params"] == {"party": "agent"}
    assert all("text" not in e for e in evidence)
    restored = json.loads(restored) if isinstance(restored, str) else restored
    sentences = [item["text"] for rule in restored for item in rule["evidence"]]
    assert sentences == [
        "您 好",
        "not found: 自报姓名或工号",
        "answered after 20.0 s (limit 15 s)",
        "silent 37.8 s with no hold announcement before it",
        "silent 35.0 s after the hold announcement “请 稍等”",
        "the agent hung up first",
    ]
