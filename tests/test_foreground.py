"""Background steps let a screen pop in progress go first (telephony/foreground.py): the call
store's batches wait for it, then are written; nothing is lost by waiting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from crm.calls import service as calls
from crm.calls.models import Direction
from crm.db import Database
from telephony.call_store import CallStore
from telephony.events import CallRecord
from telephony.foreground import Foreground

START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _call(linkedid: str) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=START,
        caller="13911150015",
        customer_number="13911150015",
        queue="service",
        agents_rung=("PJSIP/1001",),
        agent="PJSIP/1001",
        agent_extension="1001",
        answered_at=START + timedelta(seconds=8),
    )


async def test_the_call_store_writes_after_the_pops_in_progress(db: Database) -> None:
    foreground = Foreground(most_wait=60.0)  # only the pop's end lets the batch go here
    store = CallStore(db, pbx_id="default", flush_interval=0.0)
    store.foreground = foreground
    running = asyncio.create_task(store.run())
    try:
        foreground.begin()  # a pop is being built
        store.submit(_call("c1"))
        while not foreground.deferred:  # the batch reached the gate and waits there
            await asyncio.sleep(0)
        assert store.written == 0
        foreground.end()
        await asyncio.wait_for(store.flush(), timeout=10)  # a hang guard, not a timing
        assert store.written == 1
        async with db.session() as session:
            stored = [c.linkedid for c in await calls.get_live(session, pbx_id="default")]
        assert stored == ["c1"]
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
