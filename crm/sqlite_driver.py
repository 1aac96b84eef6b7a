"""SQLite under asyncio in one trip to the connection's thread per statement.

aiosqlite runs each connection in a thread of its own, and SQLAlchemy's adapter asks that
thread four times for one statement: open a cursor, execute, fetch every row, close. Each ask
is a hand-over to the thread and back through the event loop, so on a busy loop (a screen pop
beside the call store and the agents' state pushes) each costs a loop turn. Here the four are
one function run in the thread: the same SQL, the same rows, one turn.

The engine gets this module's DBAPI through `create_async_engine(..., module=...)`
(crm/db.py); everything else is SQLAlchemy's aiosqlite dialect as it is.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

if not hasattr(aiosqlite.Connection, "_execute"):  # pragma: no cover - a future aiosqlite
    raise ImportError("aiosqlite.Connection._execute is gone: crm/sqlite_driver.py needs it")


class _Outcome:
    """What a statement left on its (closed) cursor."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, cursor: sqlite3.Cursor | None = None) -> None:
        self.description = cursor.description if cursor is not None else None
        self.rowcount = cursor.rowcount if cursor is not None else -1
        self.lastrowid = cursor.lastrowid if cursor is not None else None
        self.arraysize = 1


def _run(
    connection: aiosqlite.Connection,
    operation: str,
    parameters: Sequence[Any] | Sequence[Sequence[Any]],
    many: bool,
) -> tuple[_Outcome, list[Any] | None]:
    """In the connection's thread: execute, fetch every row, close."""
    cursor = connection._conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return _Outcome(cursor), rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, each statement in one trip to the thread."""

    __slots__ = ()

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor is opened here (the base class's first trip).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._one_trip(operation, () if parameters is None else parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._one_trip(operation, seq_of_parameters, True)

    async def _one_trip(self, operation: str, parameters: Any, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome, rows = await self._connection._execute(
                _run, self._connection, operation, parameters, many
            )
        self._cursor = outcome
        if rows is not None:
            self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the cursor was closed in the thread."""

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Commit and rollback cost no trip when no transaction is open (SQLite opens one only
    for a write): a session that only read, and the pool's rollback of every connection
    handed back, are two trips fewer."""

    __slots__ = ()
    _cursor_cls = OneTripCursor  # type: ignore[assignment]  # (a subclass: mypy reads it invariant)

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def _in_transaction(self) -> bool:
        # A flag of the sqlite3 connection, safe to read from this thread; no statement of
        # this connection is running meanwhile (SQLAlchemy awaits each).
        connection = self._connection._connection
        return connection is not None and connection.in_transaction


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
