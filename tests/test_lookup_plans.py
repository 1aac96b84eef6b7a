"""The lookups that must not grow with the database (issue 19): the statements the product
really sends, caught as they run, read through each database's planner — an index, never a
scan — and the caller lookup's typed result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents.models import AgentState
from crm.calls import service as calls
from crm.calls.models import Call, Direction
from crm.customers import card_rows
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.dispositions import service as dispositions
from crm.phones import PhoneKind, lookup_key
from crm.users import service as users
from crm.users.models import Role

AREA = "029"


async def _plans(db: Database, run: Callable[[AsyncSession], Awaitable[Any]]) -> list[str]:
    """The plan of every SELECT `run` sends, one string each (SQLite: EXPLAIN QUERY PLAN;
    PostgreSQL: EXPLAIN with sequential scans priced out, as on a big table)."""
    sent: list[tuple[str, Any]] = []

    def catch(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db.engine.sync_engine, "before_cursor_execute", catch)
    try:
        async with db.session() as session:
            await run(session)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", catch)
    assert sent, "nothing was queried"
    plans = []
    async with db.engine.connect() as connection:
        driver: Any = (await connection.get_raw_connection()).driver_connection
        for statement, parameters in sent:
            if db.dialect == "sqlite":
                rows = await driver.execute_fetchall(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans.append(" | ".join(str(r[-1]) for r in rows))
            else:
                await connection.execute(text("SET enable_seqscan = off"))
                rows = await driver.fetch(f"EXPLAIN {statement}", *parameters)
                plans.append(" | ".join(r[0] for r in rows))
    return plans


def _no_scan(plan: str) -> None:
    assert "SCAN phones" not in plan and "SCAN customers" not in plan, plan
    assert "Seq Scan" not in plan, plan


async def _two_owners(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        first = await customers.create(
            s,
            name="王建国",
            phones=["138-0013-8000", "(029)8888 6666 转801"],
            grade=Grade.A,
            address="雁塔区科技路 3号楼",
            notes="老客户",
            default_area_code=AREA,
        )
        second = await customers.create(
            s,
            name="王太太",
            phones=["029-88886666"],
            do_not_call=True,
            do_not_call_reason="搬家了",
            default_area_code=AREA,
        )
        return first.id, second.id


async def test_the_caller_lookup_reads_the_number_index_that_holds_its_owner(
    db: Database,
) -> None:
    await _two_owners(db)
    [plan] = await _plans(
        db, lambda s: customers.find_by_phone(s, "+86 29 8888 6666", default_area_code=AREA)
    )
    assert "ix_phones_number_customer_id" in plan
    if db.dialect == "sqlite":
        assert "COVERING INDEX ix_phones_number_customer_id" in plan
    _no_scan(plan)


async def test_the_oldest_recording_reads_the_held_recordings_index(db: Database) -> None:
    [plan] = await _plans(db, calls.oldest_recording_started_at)
    assert "ix_calls_recording_held_started_at" in plan
    assert "SCAN calls " not in f"{plan} " and "Seq Scan" not in plan


async def test_the_caller_lookup_gives_each_owner_once_with_all_their_phones(
    db: Database,
) -> None:
    first, second = await _two_owners(db)
    async with db.session() as s:
        found = await customers.find_by_phone(s, "88886666", default_area_code=AREA)
        [mobile_owner] = await customers.find_by_phone(s, "8613800138000")
    assert [o.id for o in found] == [first, second]  # shared landline: both, in id order
    wang, wife = found
    assert (wang.name, wang.grade, wang.address, wang.notes) == (
        "王建国",
        Grade.A,
        "雁塔区科技路 3号楼",
        "老客户",
    )
    assert not wang.do_not_call and wang.do_not_call_reason is None
    assert [(p.number, p.extension, p.kind) for p in wang.phones] == [
        ("13800138000", None, PhoneKind.MOBILE),
        ("02988886666", "801", PhoneKind.LANDLINE),
    ]
    assert (wife.do_not_call, wife.do_not_call_reason) == (True, "搬家了")
    assert [p.number for p in wife.phones] == ["02988886666"]
    assert mobile_owner == wang  # plain values: the same customer reads equal


async def test_the_customer_card_reads_every_table_by_an_index(db: Database) -> None:
    """The card's one statement (crm/customers/card_rows.py): projects, callbacks,
    complaints, attempts, agents and calls each reached through an index, never scanned."""
    first, _ = await _two_owners(db)
    [plan] = await _plans(db, lambda s: card_rows.card_records(s, customer_id=first))
    for table in ("projects", "callback_tasks", "callback_attempts", "complaints", "calls"):
        assert f"SCAN {table} " not in f"{plan} ", plan
    assert "SCAN agent " not in f"{plan} " and "Seq Scan" not in plan, plan
    if db.dialect == "sqlite":
        assert "ix_callback_tasks_project_id" in plan and "ix_calls_customer_id" in plan, plan


async def test_a_pops_one_statement_reads_every_table_by_an_index(db: Database) -> None:
    """Who has the number and the first owner's card (crm/customers/card_rows.py's caller
    statement): the number's index, then everything by key or index, never a scan."""
    await _two_owners(db)
    number = lookup_key("88886666", default_area_code=AREA)
    assert number is not None
    [plan] = await _plans(db, lambda s: card_rows.caller_records(s, number=number))
    for table in (
        "customers",
        "phones",
        "matched",
        "projects",
        "callback_tasks",
        "callback_attempts",
        "complaints",
        "calls",
    ):
        assert f"SCAN {table} " not in f"{plan} ", plan
    assert "SCAN agent " not in f"{plan} " and "Seq Scan" not in plan, plan
    if db.dialect == "sqlite":
        assert "ix_phones_number_customer_id" in plan and "ix_calls_customer_id" in plan, plan


async def test_a_callbacks_customer_is_read_by_keys(db: Database) -> None:
    """A callback's pop reads its attempt, task, project, customer and phones by their keys."""
    await _two_owners(db)
    [plan] = await _plans(db, lambda s: customers.called_about(s, attempt_id=1))
    for table in ("callback_attempts", "callback_tasks", "projects", "customers", "phones"):
        assert f"SCAN {table} " not in f"{plan} ", plan
    assert "Seq Scan" not in plan, plan


async def test_an_agents_calls_to_code_are_read_as_a_range_of_today(db: Database) -> None:
    """Each phone event counts the agent's calls still to code, beside the agent's state:
    through (agent_id, ended_at), today's calls only, however many the agent had before."""
    since = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    async with db.session() as s:  # an agent with a year of calls, and the planner told so
        agent = await users.create(
            s,
            username="a1",
            password="password-1",
            display_name="a1",
            role=Role.AGENT,
            extension="1001",
        )
        s.add_all(
            Call(
                linkedid=f"old.{n}",
                direction=Direction.INBOUND,
                agent_id=agent.id,
                started_at=since - timedelta(hours=n + 1),
                answered_at=since - timedelta(hours=n + 1),
                ended_at=since - timedelta(hours=n),
            )
            for n in range(1, 2_000)
        )
    async with db.engine.begin() as connection:
        await connection.execute(text("ANALYZE"))

    async def pushes_and_gate(s: AsyncSession) -> None:
        owed = dispositions.owed_count(AgentState.user_id, since=since)
        await s.execute(select(AgentState.user_id, owed).where(AgentState.user_id == agent.id))
        await dispositions.count_owed(s, agent_id=agent.id, since=since)

    plans = await _plans(db, pushes_and_gate)
    assert len(plans) == 2
    for plan in plans:
        assert "ix_calls_agent_id_ended_at" in plan, plan
        assert "SCAN calls " not in f"{plan} " and "Seq Scan on calls" not in plan, plan
