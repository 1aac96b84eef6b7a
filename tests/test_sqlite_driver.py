"""SQLite statements in one trip to the connection's thread (crm/sqlite_driver.py), with what
SQLAlchemy reads off the cursor unchanged: rows, row counts, new ids, RETURNING, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest
from sqlalchemy import CursorResult, text
from sqlalchemy.exc import IntegrityError

from crm.db import Database
from crm.sqlite_driver import OneTripCursor


@pytest.fixture
async def database(tmp_path: Path) -> Any:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with db.session() as session:
        await session.execute(
            text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)")
        )
    yield db
    await db.dispose()


async def test_each_statement_is_one_trip_to_the_thread(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    trips: list[str] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", repr(fn)))
        return await execute(self, fn, *args, **kwargs)

    async with database.session() as session:  # the pool's connection is open already
        await session.execute(text("SELECT 1"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        rows = (await session.execute(text("SELECT id FROM t"))).all()
        await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        await session.execute(
            text("INSERT INTO t (name, n) VALUES (:n, 2)"), [{"n": "b"}, {"n": "c"}]
        )
        statements = list(trips)
    assert rows == []
    assert statements == ["_run", "_run", "_run"]
    assert trips == ["_run", "_run", "_run", "commit"]  # the pool's rollback: none to undo
    trips.clear()
    async with database.session() as session:  # a session that only reads: no transaction
        await session.execute(text("SELECT name FROM t"))
    assert trips == ["_run"]


async def test_what_sqlalchemy_reads_off_the_cursor_is_unchanged(database: Database) -> None:
    async with database.session() as session:
        inserted = cast(
            CursorResult[Any],
            await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)")),
        )
        assert inserted.lastrowid == 1 and inserted.rowcount == 1
        await session.execute(
            text("INSERT INTO t (name, n) VALUES (:name, :n)"),
            [{"name": "b", "n": 2}, {"name": "c", "n": 3}],
        )
        updated = cast(
            CursorResult[Any], await session.execute(text("UPDATE t SET n = n + 10 WHERE n >= 2"))
        )
        assert updated.rowcount == 2
        returned = await session.execute(
            text("INSERT INTO t (name, n) VALUES ('d', 4) RETURNING id, name")
        )
        assert returned.all() == [(4, "d")]
        result = await session.execute(text("SELECT name, n FROM t ORDER BY id"))
        assert list(result.keys()) == ["name", "n"]
        assert result.all() == [("a", 1), ("b", 12), ("c", 13), ("d", 4)]
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 4
        assert isinstance(
            (await session.connection()).sync_connection.connection.dbapi_connection.cursor(),  # type: ignore[union-attr]
            OneTripCursor,
        )


async def test_errors_come_back_as_sqlalchemys_and_the_transaction_rolls_back(
    database: Database,
) -> None:
    async with database.session() as session:
        await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            await session.execute(text("INSERT INTO t (name, n) VALUES ('b', 2)"))
            await session.execute(text("INSERT INTO t (name, n) VALUES ('a', 3)"))
    async with database.session() as session:
        names = (await session.execute(text("SELECT name FROM t"))).scalars().all()
    assert names == ["a"]
