"""Storing the bridge's call snapshots (crm.calls.service.store_calls): a call is one row by
(PBX, linkedid) however often it is stored, its customer and agent stay once known, an ended
recorded call is queued for transcription exactly once, and a batch costs the same few
statements however many calls it holds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm.calls.models import Call, CallOutcome, Direction
from crm.calls.service import RECORDING_GRACE, CallSnapshot, store_calls
from crm.customers import service as customers
from crm.db import Database
from crm.transcripts.models import JobStatus, TranscriptionJob
from crm.users import service as users
from crm.users.models import Role
from tests.support.statements import statements

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def rung(linkedid: str, number: str = "13900139000") -> CallSnapshot:
    return CallSnapshot(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=AT,
        uniqueid=f"{linkedid}-u",
        caller=number,
        customer_number=number,
        queue="sales",
        agents_rung=("PJSIP/2001",),
    )


def answered(snapshot: CallSnapshot) -> CallSnapshot:
    return replace(
        snapshot,
        agent_interface="PJSIP/2001",
        agent_extension="2001",
        agents_connected=("PJSIP/2001",),
        answered_at=AT + timedelta(seconds=4),
    )


def ended(snapshot: CallSnapshot, *, recorded: bool = True) -> CallSnapshot:
    return replace(
        snapshot,
        outcome=CallOutcome.ANSWERED,
        ended_at=AT + timedelta(seconds=64),
        talk_seconds=60.0,
        recording_agent=f"/rec/{snapshot.linkedid}-agent.wav" if recorded else None,
        recording_customer=f"/rec/{snapshot.linkedid}-customer.wav" if recorded else None,
    )


async def store(db: Database, *snapshots: CallSnapshot) -> list[int]:
    async with db.session() as session:
        return await store_calls(
            session, pbx_id="pbx-1", calls=list(snapshots), default_area_code="029"
        )


async def calls_of(db: Database) -> dict[str, Call]:
    async with db.session() as session:
        return {c.linkedid: c for c in await session.scalars(select(Call))}


async def jobs_of(db: Database) -> list[TranscriptionJob]:
    async with db.session() as session:
        return list(await session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id)))


async def people(db: Database) -> tuple[int, int]:
    """A customer with 13900139000 (and a number shared with another), an agent on 2001."""
    async with db.session() as session:
        owner = await customers.create(
            session, name="王女士", phones=["13900139000", "02988886666"]
        )
        await customers.create(session, name="王先生", phones=["02988886666"])
        agent = await users.create(
            session,
            username="agent2001",
            password="agent-pass-1",
            display_name="坐席2001",
            role=Role.AGENT,
            extension="2001",
        )
        return owner.id, agent.id


async def test_a_call_is_one_row_whose_customer_and_agent_stay_once_known(db: Database) -> None:
    owner, agent = await people(db)
    first = rung("1700000000.1")
    assert await store(db, first, rung("1700000000.2", "02988886666")) == []
    stored = await calls_of(db)
    assert stored["1700000000.1"].customer_id == owner
    assert stored["1700000000.1"].agent_id is None
    assert stored["1700000000.2"].customer_id is None  # two customers have it: nobody's
    assert stored["1700000000.2"].customer_number == "02988886666"
    created = stored["1700000000.1"].created_at

    await store(db, answered(first))
    # The PBX no longer names the number nor the extension: who it was stays.
    await store(db, replace(answered(first), customer_number=None, agent_extension=None))
    stored = await calls_of(db)
    call = stored["1700000000.1"]
    assert (call.customer_id, call.agent_id) == (owner, agent)
    assert call.customer_number is None and call.agent_interface == "PJSIP/2001"
    assert call.answered_at == AT + timedelta(seconds=4) and call.ended_at is None
    assert call.created_at == created and call.updated_at >= created
    assert len(stored) == 2


async def test_the_newest_snapshot_of_a_call_in_one_batch_wins(db: Database) -> None:
    await people(db)
    first = rung("1700000000.1")
    await store(db, first, answered(first), ended(answered(first)))
    [call] = (await calls_of(db)).values()
    assert call.outcome is CallOutcome.ANSWERED and call.talk_seconds == 60.0


async def test_an_ended_recorded_call_is_queued_once(db: Database) -> None:
    await people(db)
    done, unrecorded, missed = rung("1.1"), rung("1.2"), rung("1.3")
    queued = await store(
        db,
        ended(answered(done)),
        ended(answered(unrecorded), recorded=False),
        replace(ended(missed), answered_at=None, outcome=CallOutcome.ABANDONED),
        answered(rung("1.4")),  # still talking
    )
    [job] = await jobs_of(db)
    assert queued == [job.id]
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
    assert job.not_before == AT + timedelta(seconds=64) + RECORDING_GRACE
    assert job.call_id == (await calls_of(db))["1.1"].id

    # Stored again (a late event, a resync): nothing new is queued, the job is untouched.
    assert await store(db, ended(answered(done))) == []
    assert [(j.id, j.not_before) for j in await jobs_of(db)] == [(job.id, job.not_before)]


async def test_a_batch_costs_a_few_statements_of_a_few_shapes(db: Database) -> None:
    """However many calls a batch holds, it costs one call's statements, plus an INSERT of
    calls and one of jobs for each further power-of-two piece (crm/batch_sizes.py); and over
    batches of every size, the statements' texts are few: PostgreSQL prepares and keeps each
    text on each pooled connection (crm/one_of.py)."""
    await people(db)
    texts: set[str] = set()

    async def sent_for(prefix: str, size: int) -> int:
        # Each call its own number: the batch looks up as many numbers as it has calls.
        batch = [ended(answered(rung(f"{prefix}.{n}", f"139{n:08d}"))) for n in range(size)]
        with statements(db) as sent:
            queued = await store(db, *batch)
        assert len(queued) == size
        texts.update(sent)
        return len([s for s in sent if not s.lstrip().upper().startswith(("BEGIN", "COMMIT"))])

    one = await sent_for("2", 1)
    assert await sent_for("3", 64) == one
    assert await sent_for("4", 40) == one + 2  # 32 + 8
    for size in range(2, 24):
        await sent_for(f"5.{size}", size)
    inserts = {t for t in texts if t.lstrip().upper().startswith("INSERT")}
    sizes = 7  # 1, 2, 4, …, 64 rows
    assert len(inserts) <= 2 * sizes, inserts  # calls, and their transcription jobs
    if db.dialect == "postgresql":  # lookups of a batch's numbers and agents: one text each
        assert len(texts - inserts) <= one, texts - inserts
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Call)) == 1 + 64 + 40 + 275
