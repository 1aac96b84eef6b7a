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
