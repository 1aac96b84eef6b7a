"""Writing the tracker's call records to the `calls` table, off the AMI event path.

Records are coalesced per call and written in batches (one transaction each), so a burst of
events costs a few writes, and a database outage delays records without losing them: a batch
that fails stays pending and is retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from crm.calls import service as calls
from crm.calls.service import CallSnapshot
from crm.db import Database
from telephony.events import CallRecord
from telephony.foreground import Foreground

if TYPE_CHECKING:
    from crm.calls.models import Call

log = logging.getLogger(__name__)


class CallStore:
    def __init__(
        self,
        database: Database,
        *,
        pbx_id: str,
        default_area_code: str | None = None,
        flush_interval: float = 0.25,
        max_batch: int = 500,
        on_jobs_queued: Callable[[list[int]], Awaitable[None]] | None = None,
    ) -> None:
        self.database = database
        # Told (after the commit) of the transcription jobs each batch queued.
        self.on_jobs_queued = on_jobs_queued
        self.pbx_id = pbx_id
        self.default_area_code = default_area_code
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._pending: dict[str, CallRecord] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopped = False  # run() ended: nothing more will be written
        self.written = 0
        self.failures = 0
        # The process's screen pops, when it has any: a batch waits for those in progress.
        self.foreground: Foreground | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def submit(self, record: CallRecord) -> None:
        """Queue the newest state of a call for writing; never blocks."""
        self._pending.pop(record.linkedid, None)
        self._pending[record.linkedid] = record
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until everything submitted so far is in the database, or the store stopped
        (its run() was cancelled: a shutdown that did not drain first), which would never
        write it."""
        if not self._stopped:
            await self._idle.wait()

    async def run(self) -> None:
        try:
            await self._write_forever()
        finally:
            self._stopped = True
            self._idle.set()  # a flush waiting for it: nothing more is coming

    async def _write_forever(self) -> None:
        backoff = 0.5
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.flush_interval)
            self._wake.clear()
            while self._pending:
                batch = dict(list(self._pending.items())[: self.max_batch])
                for linkedid in batch:
                    del self._pending[linkedid]
                try:
                    if self.foreground is not None:
                        await self.foreground.yield_to()
                    await self.write(batch.values())
                    backoff = 0.5
                except Exception:
                    self.failures += 1
                    log.exception(
                        "could not store %d call(s); retrying in %.1f s", len(batch), backoff
                    )
                    for linkedid, record in batch.items():
                        self._pending.setdefault(linkedid, record)  # newer state wins
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
            self._idle.set()

    async def write(self, records: Iterable[CallRecord]) -> None:
        """Store a batch in one transaction (crm.calls.service.store_calls), then tell
        `on_jobs_queued` of the transcription jobs it queued."""
        snapshots = [_snapshot(r) for r in records]
        async with self.database.session() as session:
            queued = await calls.store_calls(
                session,
                pbx_id=self.pbx_id,
                calls=snapshots,
                default_area_code=self.default_area_code,
            )
        self.written += len(snapshots)
        if queued and self.on_jobs_queued is not None:
            await self.on_jobs_queued(queued)

    async def load_live(self) -> list[CallRecord]:
        """Calls the database still holds as live for this PBX (to settle after a restart)."""
        async with self.database.session() as session:
            return [_record(c) for c in await calls.get_live(session, pbx_id=self.pbx_id)]


def _snapshot(record: CallRecord) -> CallSnapshot:
    """The tracker's record as crm stores it."""
    return CallSnapshot(
        linkedid=record.linkedid,
        direction=record.direction,
        started_at=record.started_at,
        uniqueid=record.uniqueid,
        caller=record.caller,
        dialed=record.dialed,
        customer_number=record.customer_number,
        queue=record.queue,
        agents_rung=tuple(record.agents_rung),
        agent_interface=record.agent,
        agent_extension=record.agent_extension,
        agents_connected=tuple(record.agents_connected),
        outcome=record.outcome,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        wait_seconds=record.wait_seconds,
        ring_seconds=record.ring_seconds,
        talk_seconds=record.talk_seconds,
        hangup_cause=record.hangup_cause,
        hung_up_by=record.hung_up_by,
        recording=record.recording,
        recording_agent=record.recording_agent,
        recording_customer=record.recording_customer,
        end_inferred=record.end_inferred,
        attempt_id=record.attempt_id,
    )


def _record(call: Call) -> CallRecord:
    record = CallRecord(
        linkedid=call.linkedid, direction=call.direction, started_at=call.started_at
    )
    return replace(
        record,
        uniqueid=call.uniqueid,
        caller=call.caller,
        dialed=call.dialed,
        customer_number=call.customer_number,
        queue=call.queue,
        agents_rung=tuple(call.agents_rung or ()),
        agents_connected=tuple(call.agents_connected or ()),
        agent=call.agent_interface,
        answered_at=call.answered_at,
        wait_seconds=call.wait_seconds,
        ring_seconds=call.ring_seconds,
        recording=call.recording,
        recording_agent=call.recording_agent,
        recording_customer=call.recording_customer,
    )
