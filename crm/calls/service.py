"""Calls as stored: written from the bridge's snapshots, read by id or by the PBX's linkedid,
the ones still live, an agent's recent calls with the customer's name, and the call a ticket is
opened from."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.batch_sizes import power_of_two_batches
from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.calls.stats import CountedCall
from crm.clock import row_stamp
from crm.customers.models import Customer, Phone
from crm.db import dialect_insert
from crm.errors import NotFound, ValidationError
from crm.one_of import one_of
from crm.phones import lookup_key
from crm.transcripts.service import enqueue_ended_calls
from crm.users.service import active_users_by_extensions

# The PBX is given a moment to finish writing a call's recordings before they are transcribed.
RECORDING_GRACE = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """A call as the PBX bridge last saw it, to be stored (the bridge's tracker record, in
    crm's words). `agent_extension` and `customer_number` are resolved to people here."""

    linkedid: str
    direction: Direction
    started_at: datetime
    uniqueid: str | None = None
    caller: str | None = None
    dialed: str | None = None
    customer_number: str | None = None  # as the PBX gave it; normalised when stored
    queue: str | None = None
    agents_rung: tuple[str, ...] = ()
    agent_interface: str | None = None
    agent_extension: str | None = None
    agents_connected: tuple[str, ...] = ()
    outcome: CallOutcome | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wait_seconds: float | None = None
    ring_seconds: float | None = None
    talk_seconds: float | None = None
    hangup_cause: int | None = None
    hung_up_by: HungUpBy | None = None
    recording: str | None = None
    recording_agent: str | None = None
    recording_customer: str | None = None
    end_inferred: bool = False
    attempt_id: int | None = None  # the callback attempt that dialed it


@dataclass(frozen=True, slots=True)
class CallWithCustomer:
    """A call and the name of the customer it was with (None: an unknown caller)."""

    call: Call
    customer_name: str | None


@dataclass(frozen=True, slots=True)
class TicketOrigin:
    """Where a complaint or repair comes from: the call (if any) and whose ticket it is."""

    call: Call | None
    customer_id: int


async def oldest_recording_started_at(session: AsyncSession) -> datetime | None:
    """When the oldest call whose recording is still held started (retention and erasure
    clear the columns with the files); None when no call has one. The condition is the
    partial index ix_calls_recording_held_started_at's own (models.RECORDING_HELD), so both
    databases read the first entry of that index instead of walking past every old call."""
    held = or_(
        Call.recording.is_not(None),
        Call.recording_agent.is_not(None),
        Call.recording_customer.is_not(None),
    )
    oldest: datetime | None = await session.scalar(select(func.min(Call.started_at)).where(held))
    return oldest


async def get(session: AsyncSession, *, call_id: int) -> Call | None:
    """The call with this id, or None."""
    return await session.get(Call, call_id)


async def get_by_linkedid(session: AsyncSession, *, pbx_id: str, linkedid: str) -> Call | None:
    """The call a PBX knows by this linkedid (as a screen pop names it), or None."""
    return await session.scalar(
        select(Call).where(Call.pbx_id == pbx_id, Call.linkedid == linkedid)
    )


async def get_live(
    session: AsyncSession,
    *,
    pbx_id: str | None = None,
    agent_ids: Collection[int] | None = None,
) -> list[Call]:
    """The calls stored as not ended yet, of one PBX or of all; with `agent_ids`, only those
    answered by one of these agents."""
    query = select(Call).where(Call.ended_at.is_(None))
    if pbx_id is not None:
        query = query.where(Call.pbx_id == pbx_id)
    if agent_ids is not None:
        query = query.where(one_of(Call.agent_id, agent_ids))
    return list(await session.scalars(query))


async def store_calls(
    session: AsyncSession,
    *,
    pbx_id: str,
    calls: Sequence[CallSnapshot],
    default_area_code: str | None,
) -> list[int]:
    """Insert or update the PBX's calls by linkedid, with their customer (when exactly one has
    the number) and agent (the active user with the extension); queue the ended, recorded ones
    for transcription in the same transaction, so no recording is ever forgotten; link each
    callback attempt to the call it made. The ids of the transcription jobs queued just now.

    One INSERT … ON CONFLICT for the whole batch, not ORM rows loaded and flushed: the bridge
    stores every call three times or more (rung, answered, ended), on the loop that sends the
    screen pops, and the ORM's unit of work was most of that cost (bench/screen_pops.py)."""
    latest = {c.linkedid: c for c in calls}  # one row per call: its newest snapshot
    if not latest:
        return []
    numbers = {
        linkedid: lookup_key(c.customer_number, default_area_code=default_area_code)
        for linkedid, c in latest.items()
    }
    owners = await _sole_owners(session, {n for n in numbers.values() if n})
    agents = await active_users_by_extensions(
        session, extensions=[c.agent_extension for c in latest.values() if c.agent_extension]
    )
    stamp = row_stamp()
    rows = []
    for linkedid, snapshot in latest.items():
        number = numbers[linkedid]
        agent = agents.get(snapshot.agent_extension or "")
        rows.append(
            _row(snapshot, pbx_id, number, owners.get(number or ""), agent.id if agent else None)
            | {"created_at": stamp, "updated_at": stamp}
        )
    upsert = _upsert(session.get_bind().dialect.name)
    ids: dict[str, int] = {}
    for batch in power_of_two_batches(rows):
        ids.update(
            (linkedid, call_id) for call_id, linkedid in await session.execute(upsert, batch)
        )
    queued = await enqueue_ended_calls(
        session, {ids[linkedid]: c for linkedid, c in latest.items()}, grace=RECORDING_GRACE
    )
    attempts = {c.attempt_id: ids[c.linkedid] for c in latest.values() if c.attempt_id}
    if attempts:
        for attempt in await session.scalars(
            select(CallbackAttempt).where(
                one_of(CallbackAttempt.id, list(attempts)), CallbackAttempt.call_id.is_(None)
            )
        ):
            attempt.call_id = attempts[attempt.id]
    return queued


@functools.cache
def _upsert(dialect: str) -> Any:
    """Insert or update calls by (pbx_id, linkedid), returning (id, linkedid): built once per
    dialect, so it is compiled once, and run with the batch's rows as its parameters."""
    table = Call.__table__.c
    insert = dialect_insert(dialect)(Call.__table__)
    kept = {"pbx_id", "linkedid", "created_at", "id"}  # the key, and when it was first stored
    updated = {c.name: insert.excluded[c.name] for c in Call.__table__.c if c.name not in kept}
    # A customer or agent once known stays when the PBX no longer names them.
    for name in ("customer_id", "agent_id"):
        updated[name] = func.coalesce(insert.excluded[name], table[name])
    return insert.on_conflict_do_update(
        index_elements=["pbx_id", "linkedid"], set_=updated
    ).returning(table.id, table.linkedid)


async def _sole_owners(session: AsyncSession, numbers: set[str]) -> dict[str, int]:
    """Normalised number → customer, when exactly one customer has that number."""
    if not numbers:
        return {}
    owners: dict[str, set[int]] = {}
    rows = await session.execute(
        select(Phone.number, Phone.customer_id).where(one_of(Phone.number, numbers))
    )
    for number, customer_id in rows:
        owners.setdefault(number, set()).add(customer_id)
    return {n: ids.pop() for n, ids in owners.items() if len(ids) == 1}


def _row(
    s: CallSnapshot, pbx_id: str, number: str | None, customer_id: int | None, agent_id: int | None
) -> dict[str, Any]:
    """The snapshot as the calls table's row (every column but the key and timestamps)."""
    return {
        "pbx_id": pbx_id,
        "linkedid": s.linkedid,
        "uniqueid": s.uniqueid,
        "direction": s.direction,
        "caller": s.caller,
        "dialed": s.dialed,
        "customer_number": number,
        "customer_id": customer_id,
        "queue": s.queue,
        "agent_interface": s.agent_interface,
        "agent_id": agent_id,
        "agents_rung": list(s.agents_rung),
        "agents_connected": list(s.agents_connected),
        "outcome": s.outcome,
        "started_at": s.started_at,
        "answered_at": s.answered_at,
        "ended_at": s.ended_at,
        "wait_seconds": s.wait_seconds,
        "ring_seconds": s.ring_seconds,
        "talk_seconds": s.talk_seconds,
        "hangup_cause": s.hangup_cause,
        "hung_up_by": s.hung_up_by,
        "recording": s.recording,
        "recording_agent": s.recording_agent,
        "recording_customer": s.recording_customer,
        "end_inferred": s.end_inferred,
    }


def _with_customer(limit: int) -> Select[Call, str]:  # the name: None for unknown callers
    return (
        select(Call, Customer.name)
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .order_by(Call.started_at.desc())
        .limit(limit)
    )


async def recent_for_agent(
    session: AsyncSession, *, agent_id: int, limit: int
) -> list[CallWithCustomer]:
    """The agent's latest calls, newest first."""
    rows = await session.execute(_with_customer(limit).where(Call.agent_id == agent_id))
    return [CallWithCustomer(call, name) for call, name in rows]


async def get_by_linkedids(
    session: AsyncSession, *, linkedids: Sequence[str], limit: int
) -> list[CallWithCustomer]:
    """The calls with these linkedids, newest first."""
    rows = await session.execute(_with_customer(limit).where(one_of(Call.linkedid, linkedids)))
    return [CallWithCustomer(call, name) for call, name in rows]


async def ticket_origin(
    session: AsyncSession,
    *,
    pbx_id: str,
    call_id: int | None,
    linkedid: str | None,
    customer_id: int | None,
    what: str,
) -> TicketOrigin:
    """The call a ticket (a `what`: complaint, repair) comes from, by id or by the linkedid
    the pop named, and the customer it is for: the one given, else the call's."""
    call = None
    if call_id is not None:
        call = await get(session, call_id=call_id)
    elif linkedid:
        call = await get_by_linkedid(session, pbx_id=pbx_id, linkedid=linkedid)
    if (call_id or linkedid) and call is None:
        raise NotFound("no such call", code="call_not_found", field="call_id")
    customer = customer_id or (call.customer_id if call else None)
    if customer is None:
        raise ValidationError(f"say whose {what} it is", code="required", field="customer_id")
    return TicketOrigin(call, customer)


async def counted_calls(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[tuple[CountedCall, Direction]]:
    """The calls that started in [start, end), oldest first, as the queue statistics see
    them (the wallboard's and the reports'), each with its direction."""
    rows = await session.execute(
        select(
            Call.linkedid,
            Call.started_at,
            Call.queue,
            Call.answered_at,
            Call.ended_at,
            Call.outcome,
            Call.wait_seconds,
            Call.talk_seconds,
            Call.agent_id,
            Call.direction,
        )
        .where(Call.started_at >= start, Call.started_at < end)
        .order_by(Call.started_at, Call.id)
    )
    return [
        (
            CountedCall(
                linkedid=r.linkedid,
                started_at=r.started_at,
                queue=r.queue,
                answered_at=r.answered_at,
                ended_at=r.ended_at,
                outcome=r.outcome,
                wait_seconds=r.wait_seconds,
                talk_seconds=r.talk_seconds,
                agent_id=r.agent_id,
            ),
            r.direction,
        )
        for r in rows
    ]
