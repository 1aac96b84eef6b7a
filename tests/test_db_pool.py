"""A SQLite database keeps the connections a burst of sessions uses (screen pops build eight
cards at once beside the call store, agent states and the wallboard): a connection is a
thread, the file and four PRAGMAs, not to be opened and closed again in every burst. Reads
that need no transaction (Database.read) pay for none."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from crm.customers import service as customers
from crm.db import SQLITE_POOL_SIZE, Database


async def test_a_burst_of_sessions_reuses_sqlite_connections(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    opened = 0

    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(database.engine.sync_engine, "connect", count)
    burst = 12
    assert burst <= SQLITE_POOL_SIZE
    held = asyncio.Event()

    async def one(entered: list[int]) -> None:
        async with database.session() as session:
            await session.execute(text("SELECT 1"))
            entered.append(1)
            if len(entered) == burst:
                held.set()
            await held.wait()  # every session of the burst open at once

    try:
        for _ in range(10):
            held.clear()
            entered: list[int] = []
            await asyncio.wait_for(asyncio.gather(*(one(entered) for _ in range(burst))), 30)
        assert opened == burst  # the first burst opened them; the nine others reused them
    finally:
        await database.dispose()


async def test_a_read_sees_what_is_committed_and_cannot_write(db: Database) -> None:
    """Database.read: the rows committed before it; on PostgreSQL in autocommit (no BEGIN or
    COMMIT trips around a pop's card) and read-only, so a write through it fails instead of
    committing at once."""
    async with db.session() as session:
        await customers.create(session, name="王女士", phones=["13900139000"])
    async with db.read() as session:
        [owner] = await customers.find_by_phone(session, "13900139000")
        assert owner.name == "王女士"
    if db.dialect != "postgresql":
        return  # a plain session: SQLite opens no transaction for a read
    async with db.read() as session:
        connection = await (await session.connection()).get_raw_connection()
        assert connection.dbapi_connection is not None
        assert connection.dbapi_connection.autocommit is True
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await session.execute(text("DELETE FROM phones"))
    async with db.read() as session:  # the refused write left its connection usable
        assert len(await customers.find_by_phone(session, "13900139000")) == 1
