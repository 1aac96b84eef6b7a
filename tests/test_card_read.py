"""The customer card in one round trip (issue 19): the same card, value for value, as the
one-statement-per-table read it replaced (tests/support/card_oracle.py), for customers with
nothing, a little and a lot on file; and a screen pop's statements counted, so its round-trip
budget cannot grow unnoticed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from crm.callbacks.models import (
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource
from crm.customers import cards
from crm.customers import service as customers
from crm.customers.models import Customer, Grade
from crm.db import Database
from crm.projects.models import Project, ProjectStatus
from crm.users import service as users
from crm.users.models import Role
from telephony.events import AgentRinging
from tests.support import card_oracle
from tests.support.services import bare_services
from tests.support.statements import statements
from web.pops import PopService

AREA = "029"
AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)


async def _customer(db: Database, name: str, phones: list[str], **fields: Any) -> int:
    async with db.session() as s:
        return (
            await customers.create(s, name=name, phones=phones, default_area_code=AREA, **fields)
        ).id


async def _rich_customer(db: Database) -> int:
    """Several projects (blank and equal contract dates), callbacks open, overdue, done,
    cancelled and complaint call backs, attempts by agents and by a campaign, and more
    calls than the card shows, some answered by an agent and some by nobody."""
    customer_id = await _customer(
        db, "李娜", ["13900139000", "029-8765 4321 转12", "0911-2345678"], grade=Grade.A
    )
    async with db.session() as s:
        agent = await users.create(
            s,
            username="zhang",
            password="pw-123456",
            display_name="张三",
            role=Role.AGENT,
            extension="1001",
        )
        other = await users.create(
            s,
            username="li",
            password="pw-123456",
            display_name="李四",
            role=Role.AGENT,
            extension="1002",
        )
        projects = [
            Project(
                customer_id=customer_id,
                contract_number=f"HT-{n}",
                address=f"高新区 {n} 号",
                designer="设计师" if n else "",
                project_manager="经理",
                foreman="工长",
                crew="一队",
                status=status,
                contract_date=contract,
                start_date=start,
                concealed_works_date=start + timedelta(days=20) if start else None,
                completion_date=start + timedelta(days=90) if start else None,
            )
            for n, (status, contract, start) in enumerate(
                [
                    (ProjectStatus.IN_PROGRESS, date(2026, 9, 1), date(2026, 9, 10)),
                    (ProjectStatus.SIGNED, None, None),
                    (ProjectStatus.COMPLETED, date(2026, 1, 5), date(2026, 2, 1)),
                    (ProjectStatus.SIGNED, date(2026, 9, 1), date(2026, 12, 1)),
                ]
            )
        ]
        s.add_all(projects)
        await s.flush()
        first, _, done, _ = projects
        tasks = [
            CallbackTask(
                project_id=project.id,
                stage=stage,
                month=month,
                due_date=due,
                latest_date=due + timedelta(days=3),
                status=status,
                effective=effective,
                attempt_count=tries,
                complaint_id=named,
            )
            for project, stage, month, due, status, effective, tries, named in [
                (first, Stage.START, 0, date(2026, 9, 10), TaskStatus.DONE, True, 2, None),
                (
                    first,
                    Stage.CONCEALED_WORKS,
                    0,
                    date(2026, 9, 30),
                    TaskStatus.PENDING,
                    False,
                    1,
                    None,
                ),
                (first, Stage.MIDTERM, 0, date(2026, 11, 30), TaskStatus.PENDING, False, 0, None),
                (
                    first,
                    Stage.COMPLETION,
                    0,
                    date(2026, 12, 9),
                    TaskStatus.CANCELLED,
                    False,
                    0,
                    None,
                ),
                (
                    done,
                    Stage.POST_COMPLETION,
                    2,
                    date(2026, 6, 1),
                    TaskStatus.UNREACHABLE,
                    False,
                    5,
                    None,
                ),
                (
                    done,
                    Stage.POST_COMPLETION,
                    1,
                    date(2026, 6, 1),
                    TaskStatus.IN_PROGRESS,
                    False,
                    1,
                    None,
                ),
                (done, Stage.COMPLAINT, 0, date(2026, 11, 20), TaskStatus.PENDING, False, 0, None),
                (done, Stage.COMPLAINT, 0, date(2026, 11, 25), TaskStatus.PENDING, False, 0, 999),
            ]
        ]
        s.add_all(tasks)
        await s.flush()
        s.add(
            Complaint(
                customer_id=customer_id,
                project_id=done.id,
                source=ComplaintSource.CALL,
                department="工程部",
                category="质量",
                description="墙面开裂",
                grade=ComplaintGrade.GENERAL,
                received_at=AT - timedelta(days=10),
                clocks_from=AT - timedelta(days=10),
                callback_task_id=tasks[6].id,
            )
        )
        calls = [
            Call(
                linkedid=f"1700000000.{n}",
                direction=Direction.INBOUND if n % 3 else Direction.OUTBOUND,
                customer_number="13900139000",
                customer_id=customer_id,
                queue="sales" if n % 2 else None,
                agent_id=(agent.id, other.id, None)[n % 3],
                outcome=None
                if n == 0
                else (CallOutcome.ANSWERED if n % 2 else CallOutcome.ABANDONED),
                started_at=AT - timedelta(hours=n * 7),
                talk_seconds=n * 12.5 if n % 2 else None,
            )
            for n in range(12)
        ]
        s.add_all(calls)
        await s.flush()
        s.add_all(
            CallbackAttempt(
                task_id=task.id,
                made_by=made_by,
                agent_id=agent_id,
                started_at=started,
                outcome=outcome,
                satisfaction_quality=Satisfaction.SATISFIED
                if outcome is Outcome.EFFECTIVE
                else None,
                satisfaction_crew=Satisfaction.NEUTRAL if outcome is Outcome.EFFECTIVE else None,
                notes="客户满意" if outcome is Outcome.EFFECTIVE else "",
                call_id=call_id,
                call_back_at=call_back_at,
            )
            for task, made_by, agent_id, started, outcome, call_id, call_back_at in [
                (
                    tasks[0],
                    MadeBy.AGENT,
                    agent.id,
                    AT - timedelta(days=70),
                    Outcome.EFFECTIVE,
                    calls[3].id,
                    None,
                ),
                (
                    tasks[0],
                    MadeBy.CAMPAIGN,
                    None,
                    AT - timedelta(days=72),
                    Outcome.NO_ANSWER,
                    None,
                    None,
                ),
                (
                    tasks[1],
                    MadeBy.AGENT,
                    other.id,
                    AT - timedelta(days=50),
                    Outcome.CALL_LATER,
                    None,
                    AT + timedelta(days=1),
                ),
                (
                    tasks[3],
                    MadeBy.AGENT,
                    agent.id,
                    AT - timedelta(days=1),
                    Outcome.BUSY,
                    None,
                    None,
                ),
                (tasks[5], MadeBy.CAMPAIGN, None, AT - timedelta(hours=2), None, None, None),
            ]
        )
    return customer_id


async def _both_cards(db: Database, number: str) -> tuple[list[Any], list[Any]]:
    async with db.session() as s:
        owners = await customers.find_by_phone(s, number, default_area_code=AREA)
        assert owners
        new = [await cards.card_of(s, o, today=TODAY) for o in owners]
        old = [await card_oracle.card_of(s, o, today=TODAY) for o in owners]
        page = [await cards.customer_card(s, o.id, today=TODAY) for o in owners]
        # The pop's one statement: the same owners, and the first one's card.
        popped_owners, popped = await customers.caller_card(
            s, number, default_area_code=AREA, today=TODAY
        )
    assert page == new  # the customer page and the pop show the same card
    assert popped_owners == owners and popped == new[0]
    return new, old


async def test_the_one_statement_card_equals_the_table_by_table_card(db: Database) -> None:
    rich = await _rich_customer(db)
    await _customer(db, "陈静", ["13700137000"])  # nothing on file
    await _customer(
        db,
        "王先生",
        ["029-8765 4321 转12", "13600136000"],  # shares the rich customer's landline
        do_not_call=True,
        do_not_call_reason="要求不再来电",
    )
    for number in ("13900139000", "13700137000", "02987654321", "13600136000"):
        new, old = await _both_cards(db, number)
        assert [c.model_dump_json() for c in new] == [c.model_dump_json() for c in old]
        assert new == old
    [card], _ = await _both_cards(db, "13900139000")
    assert card.id == rich
    # The rich customer's card is rich: the comparison above compared something.
    assert [p.contract_number for p in card.projects] == ["HT-3", "HT-0", "HT-2", "HT-1"]
    callbacks = {t.stage: t for p in card.projects for t in p.callbacks}
    assert Stage.COMPLETION.value not in callbacks  # cancelled
    assert sum(len(t.callbacks) for t in card.projects) == 7
    about = [t.complaint_id for p in card.projects for t in p.callbacks if t.stage == "complaint"]
    assert len(about) == 2 and 999 in about and None not in about  # linked, and the old field
    assert any(t.overdue for p in card.projects for t in p.callbacks)
    assert {a.agent_name for p in card.projects for t in p.callbacks for a in t.attempts} == {
        "张三",
        "李四",
        None,
    }
    assert len(card.recent_calls) == 10
    assert {c.agent_name for c in card.recent_calls} == {"张三", "李四", None}
    assert card.recent_calls[0].outcome is None
    quiet = await _both_cards(db, "13700137000")
    assert quiet[0][0].projects == [] and quiet[0][0].recent_calls == []


def _pop_service(db: Database) -> PopService:
    return PopService(bare_services(db, FixedClock(AT), default_area_code=AREA))


def _ringing(caller: str) -> AgentRinging:
    return AgentRinging(
        linkedid="1700000000.1",
        interface="PJSIP/1001",
        extension="1001",
        caller=caller,
        queue="sales",
        direction=Direction.INBOUND,
        at=AT,
    )


async def test_a_pop_costs_one_statement_whatever_the_customer_has_on_file(
    db: Database,
) -> None:
    await _rich_customer(db)
    await _customer(db, "陈静", ["13700137000"])
    pops = _pop_service(db)
    # Who has the number and the first one's card: one statement, whoever calls.
    expected = {"13900139000": 1, "13700137000": 1, "02987654321": 1, "13500135000": 1}
    for caller, budget in expected.items():
        with statements(db) as sent:
            card = await pops.build_card(_ringing(caller))
        assert len(sent) == budget, (caller, sent)
        assert (card.customer is None) == (caller == "13500135000")
    rich = await pops.build_card(_ringing("13900139000"))
    assert rich.customer is not None and rich.customer.projects and rich.customer.recent_calls
    # A callback's pop: the attempt's task and customer in one statement, then the card.
    async with db.session() as session:
        attempt = await session.get(CallbackAttempt, 3)
        assert attempt is not None
        task_id = attempt.task_id
    with statements(db) as sent:
        called = await pops.build_card(replace(_ringing("+8613500135000"), attempt_id=3))
    assert len(sent) == 2, sent
    assert called.task_id == task_id and called.customer == rich.customer
    # An attempt that is not on file: the caller's number is looked up instead.
    with statements(db) as sent:
        unknown = await pops.build_card(replace(_ringing("13900139000"), attempt_id=9999))
    assert len(sent) == 2, sent
    assert unknown.task_id is None and unknown.customer == rich.customer


async def test_the_customer_row_is_not_needed_twice(db: Database) -> None:
    """A customer id with nothing at all on file reads as an empty card, not an error."""
    async with db.session() as s:
        records = await cards.card_rows.card_records(s, customer_id=123456)
    assert (records.projects, records.tasks, records.calls) == ([], [], [])
    assert Customer.__tablename__ == "customers"
