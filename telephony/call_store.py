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
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.customers.models import Phone
from crm.db import Database
from crm.phones import lookup_key
from crm.transcripts.service import enqueue_call
from crm.users.models import User
from telephony.events import CallRecord

log = logging.getLogger(__name__)

RECORDING_GRACE = timedelta(seconds=5)


class CallStore:
    def __init__(
        self,
        database: Database,
        *,
        pbx_id: str,
        default_area_code: str | None = None,
        flush_interval: float = 0.05,
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
        self.written = 0
        self.failures = 0

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
        """Wait until everything submitted so far is in the database."""
        await self._idle.wait()

    async def run(self) -> None:
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
        records = list(records)
        numbers = {
            r.linkedid: lookup_key(r.customer_number, default_area_code=self.default_area_code)
            for r in records
        }
        async with self.database.session() as session:
            existing = {
                c.linkedid: c
                for c in await session.scalars(
                    select(Call).where(
                        Call.pbx_id == self.pbx_id, Call.linkedid.in_([r.linkedid for r in records])
                    )
                )
            }
            customers = await self._customers(session, {n for n in numbers.values() if n})
            agents = await self._agents(
                session, {r.agent_extension for r in records if r.agent_extension}
            )
            rows: dict[str, Call] = {}
            for record in records:
                call = existing.get(record.linkedid)
                if call is None:
                    call = Call(pbx_id=self.pbx_id, linkedid=record.linkedid)
                    session.add(call)
                rows[record.linkedid] = call
                number = numbers[record.linkedid]
                self._apply(
                    call,
                    record,
                    number,
                    customers.get(number or ""),
                    agents.get(record.agent_extension or ""),
                )
            await session.flush()
            queued: list[int] = []
            for record in records:
                if record.ended_at is not None:
                    job_id = await self._queue_transcription(session, rows[record.linkedid], record)
                    if job_id is not None:
                        queued.append(job_id)
            attempts = {r.attempt_id: r.linkedid for r in records if r.attempt_id}
            if attempts:
                by_linkedid = {
                    c.linkedid: c
                    for c in await session.scalars(
                        select(Call).where(
                            Call.pbx_id == self.pbx_id, Call.linkedid.in_(list(attempts.values()))
                        )
                    )
                }
                for attempt in await session.scalars(
                    select(CallbackAttempt).where(
                        CallbackAttempt.id.in_(list(attempts)), CallbackAttempt.call_id.is_(None)
                    )
                ):
                    attempt.call_id = by_linkedid[attempts[attempt.id]].id
        self.written += len(records)
        if queued and self.on_jobs_queued is not None:
            await self.on_jobs_queued(queued)

    @staticmethod
    async def _queue_transcription(session: Any, call: Call, record: CallRecord) -> int | None:
        """A recorded call that ended is queued in the same transaction that ends it, so no
        recording is ever forgotten; the PBX is given a moment to finish writing the files.
        The job's id when it was queued just now."""
        job = await enqueue_call(session, call)
        if job is not None and job.attempts == 0 and job.not_before is None:
            assert record.ended_at is not None
            job.not_before = record.ended_at + RECORDING_GRACE
            await session.flush()
            return int(job.id)
        return None

    @staticmethod
    async def _customers(session: Any, numbers: set[str]) -> dict[str, int]:
        """Normalised number → customer, when exactly one customer has that number."""
        if not numbers:
            return {}
        owners: dict[str, set[int]] = {}
        for number, customer_id in await session.execute(
            select(Phone.number, Phone.customer_id).where(Phone.number.in_(numbers))
        ):
            owners.setdefault(number, set()).add(customer_id)
        return {n: ids.pop() for n, ids in owners.items() if len(ids) == 1}

    @staticmethod
    async def _agents(session: Any, extensions: set[str]) -> dict[str, int]:
        if not extensions:
            return {}
        rows = await session.execute(
            select(User.extension, User.id).where(User.extension.in_(extensions))
        )
        return {extension: user_id for extension, user_id in rows}  # noqa: C416 - a Result

    @staticmethod
    def _apply(
        call: Call, r: CallRecord, number: str | None, customer_id: int | None, agent_id: int | None
    ) -> None:
        call.uniqueid = r.uniqueid
        call.direction = Direction(r.direction)
        call.caller = r.caller
        call.dialed = r.dialed
        call.customer_number = number
        call.customer_id = customer_id if customer_id is not None else call.customer_id
        call.queue = r.queue
        call.agent_interface = r.agent
        call.agent_id = agent_id if agent_id is not None else call.agent_id
        call.agents_rung = list(r.agents_rung)
        call.agents_connected = list(r.agents_connected)
        call.outcome = CallOutcome(r.outcome) if r.outcome else None
        call.started_at = r.started_at
        call.answered_at = r.answered_at
        call.ended_at = r.ended_at
        call.wait_seconds = r.wait_seconds
        call.ring_seconds = r.ring_seconds
        call.talk_seconds = r.talk_seconds
        call.hangup_cause = r.hangup_cause
        call.hung_up_by = HungUpBy(r.hung_up_by) if r.hung_up_by else None
        call.recording = r.recording
        call.recording_agent = r.recording_agent
        call.recording_customer = r.recording_customer
        call.end_inferred = r.end_inferred

    async def load_live(self) -> list[CallRecord]:
        """Calls the database still holds as live for this PBX (to settle after a restart)."""
        async with self.database.session() as session:
            calls = await session.scalars(
                select(Call).where(Call.pbx_id == self.pbx_id, Call.ended_at.is_(None))
            )
            return [_record(c) for c in calls]


def _record(call: Call) -> CallRecord:
    record = CallRecord(
        linkedid=call.linkedid, direction=call.direction.value, started_at=call.started_at
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
