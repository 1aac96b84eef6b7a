"""A SQLite database keeps the connections a burst of sessions uses (screen pops build eight
cards at once beside the call store, agent states and the wallboard): a connection is a
thread, the file and four PRAGMAs, not to be opened and closed again in every burst."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

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
