"""CRM services against a real database (SQLite and PostgreSQL): validation, lookup, schedule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackTask, MadeBy, Outcome, Satisfaction, Stage, TaskStatus
from crm.callbacks.schedule import ScheduleRules
from crm.clock import FixedClock
from crm.customers import service as customers
from crm.customers.models import Grade
from crm.db import Database
from crm.errors import Conflict, ValidationError
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.users import service as users
from crm.users.models import Role, User
from tests.support.rows import found

RULES = ScheduleRules(window_days=3, post_completion_months=3)
AREA = "029"


async def _customer(
    db: Database,
    name: str = "王建国",
    phones: tuple[str, ...] = ("138-0013-8000", "(029)8888 6666 转801"),
) -> int:
    async with db.session() as s:
        customer = await customers.create(
            s,
            name=name,
            phones=list(phones),
            grade=Grade.A,
            address="雁塔区科技路 3号楼2单元1502室",
            default_area_code=AREA,
        )
        return customer.id


async def _project(db: Database, customer_id: int, **dates: date) -> int:
    async with db.session() as s:
        customer = await customers.get_or_raise(s, customer_id)
        project = await projects.create(
            s,
            customer=customer,
            contract_number="XA2026-000001",
            rules=RULES,
            status=ProjectStatus.IN_PROGRESS,
            designer="李设计",
            **dates,
        )
        return project.id


async def _agent(session: AsyncSession) -> User:
    """Agent 王小丽 at extension 1001."""
    return await users.create(
        session,
        username="agent1",
        password="secret-pw",
        role=Role.AGENT,
        display_name="王小丽",
        extension="1001",
    )


@pytest.fixture
async def campaign_id(db: Database) -> int:
    from crm.campaigns.models import Campaign

    async with db.session() as s:
        owner = await users.create(
            s,
            username="supervisor",
            password="secret-pw",
            role=Role.SUPERVISOR,
            display_name="组长",
        )
        campaign = Campaign(name="中期回访", owner_id=owner.id)
        s.add(campaign)
        await s.flush()
        return campaign.id


DATES = {
    "contract_date": date(2026, 3, 1),
    "start_date": date(2026, 3, 10),
    "concealed_works_date": date(2026, 3, 25),
    "midterm_date": date(2026, 4, 20),
    "completion_date": date(2026, 5, 31),
}


async def test_customer_phones_are_stored_normalised(db: Database) -> None:
    customer_id = await _customer(db)
    async with db.session() as s:
        customer = await customers.get_or_raise(s, customer_id)
        assert [(p.number, p.extension, p.kind) for p in customer.phones] == [
            ("13800138000", None, "mobile"),
            ("02988886666", "801", "landline"),
        ]
        assert customer.phones[1].raw == "(029)8888 6666 转801"


@pytest.mark.parametrize(
    "form",
    [
        "+86 138 0013 8000",
        "008613800138000",
        "013800138000",
        "8613800138000",
        "138 0013 8000",
        "88886666",
        "+86-29-8888-6666",
        "029-88886666",
    ],
)
async def test_lookup_by_any_form_of_the_number(db: Database, form: str) -> None:
    customer_id = await _customer(db)
    async with db.session() as s:
        found = await customers.find_by_phone(s, form, default_area_code=AREA)
    assert [c.id for c in found] == [customer_id]


async def test_unknown_and_unusable_callers_find_nobody(db: Database) -> None:
    await _customer(db)
    async with db.session() as s:
        assert await customers.find_by_phone(s, "13900000000") == []
        assert await customers.find_by_phone(s, "<unknown>") == []
        assert await customers.find_by_phone(s, "") == []


async def test_lookup_uses_the_phone_number_index(db: Database) -> None:
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        if db.dialect == "sqlite":
            rows = (
                await connection.execute(
                    text("EXPLAIN QUERY PLAN SELECT customer_id FROM phones WHERE number = '1'")
                )
            ).all()
            plan = " ".join(str(r[-1]) for r in rows)
            assert "ix_phones_number" in plan
        else:
            await connection.execute(text("SET enable_seqscan = off"))
            rows = (
                await connection.execute(
                    text("EXPLAIN SELECT customer_id FROM phones WHERE number = '1'")
                )
            ).all()
            assert "ix_phones_number" in " ".join(r[0] for r in rows)


async def test_invalid_customer_reports_every_problem_by_field(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(ValidationError) as caught:
            await customers.create(s, name=" ", phones=["12345abc", "10086"], do_not_call=True)
    fields = {p.field: p.code for p in caught.value.problems}
    assert fields == {
        "phones[0]": "invalid_phone",
        "phones[1]": "not_a_customer_phone",
        "name": "required",
        "do_not_call_reason": "required",
    }


async def test_search_by_name_number_or_contract(db: Database) -> None:
    customer_id = await _customer(db)
    await _project(db, customer_id, **DATES)
    await _customer(db, name="李娜", phones=("13912345678",))
    async with db.session() as s:
        for query in ("建国", "+86 138 0013 8000", "XA2026-000001", "029-8888-6666"):
            assert [c.id for c in await customers.search(s, query, default_area_code=AREA)] == [
                customer_id
            ], query
        assert await customers.search(s, "%") == []


async def test_project_creation_plans_its_callbacks(db: Database) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        tasks = await callbacks.get_for_project(s, project_id)
    assert [(t.stage, t.month, t.due_date) for t in tasks] == [
        (Stage.START, 0, date(2026, 3, 10)),
        (Stage.CONCEALED_WORKS, 0, date(2026, 3, 25)),
        (Stage.MIDTERM, 0, date(2026, 4, 20)),
        (Stage.COMPLETION, 0, date(2026, 5, 31)),
        (Stage.POST_COMPLETION, 1, date(2026, 6, 30)),
        (Stage.POST_COMPLETION, 2, date(2026, 7, 31)),
        (Stage.POST_COMPLETION, 3, date(2026, 8, 31)),
    ]
    assert {t.priority for t in tasks} == {1}  # grade A
    assert {t.status for t in tasks} == {TaskStatus.PENDING}


async def test_a_schedule_stage_once_a_project_and_complaint_call_backs_each_their_own(
    db: Database,
) -> None:
    """The schedule's (project, stage, month) is unique; complaint call backs, all month 0,
    are one per complaint (kept by the complaint's link), as many as a project needs."""
    project_id = await _project(db, await _customer(db), **DATES)
    day = DATES["start_date"]

    def task(stage: Stage, month: int) -> CallbackTask:
        return CallbackTask(
            project_id=project_id, stage=stage, month=month, due_date=day, latest_date=day
        )

    async with db.session() as s:
        s.add_all([task(Stage.COMPLAINT, 0), task(Stage.COMPLAINT, 0)])
        await s.flush()
    for stage, month in ((Stage.START, 0), (Stage.POST_COMPLETION, 2)):
        with pytest.raises(IntegrityError):
            async with db.session() as s:
                s.add(task(stage, month))
                await s.flush()
    async with db.session() as s:
        tasks = await callbacks.get_for_project(s, project_id)
    assert sum(t.stage is Stage.COMPLAINT for t in tasks) == 2
    assert len(tasks) == 9


async def test_out_of_order_dates_are_rejected_and_nothing_is_saved(db: Database) -> None:
    customer_id = await _customer(db)
    with pytest.raises(ValidationError) as caught:
        await _project(
            db, customer_id, start_date=date(2026, 3, 10), concealed_works_date=date(2026, 3, 1)
        )
    assert caught.value.problems[0].field == "concealed_works_date"
    async with db.session() as s:
        assert await projects.get_for_customer(s, customer_id) == []


async def test_duplicate_contract_number_conflicts(db: Database) -> None:
    customer_id = await _customer(db)
    await _project(db, customer_id, **DATES)
    with pytest.raises(Conflict):
        await _project(db, customer_id)


async def test_date_change_moves_pending_tasks_and_keeps_history(
    db: Database, clock: FixedClock
) -> None:
    customer_id = await _customer(db)
    project_id = await _project(db, customer_id, **DATES)
    async with db.session() as s:
        agent = await _agent(s)
        start_task = (await callbacks.get_for_project(s, project_id))[0]
        await callbacks.log_attempt(
            s,
            task=start_task,
            made_by=MadeBy.AGENT,
            agent_id=agent.id,
            outcome=Outcome.EFFECTIVE,
            at=clock.now(),
            satisfaction={"quality": Satisfaction.SATISFIED},
        )
    async with db.session() as s:
        project = await projects.get_or_raise(s, project_id)
        await projects.update(
            s, project, rules=RULES, start_date=date(2026, 3, 12), midterm_date=date(2026, 4, 28)
        )
    async with db.session() as s:
        tasks = {(t.stage, t.month): t for t in await callbacks.get_for_project(s, project_id)}
    start = tasks[(Stage.START, 0)]
    assert start.status is TaskStatus.DONE and start.due_date == date(2026, 3, 10)
    assert len(start.attempts) == 1 and start.attempts[0].outcome is Outcome.EFFECTIVE
    assert tasks[(Stage.MIDTERM, 0)].due_date == date(2026, 4, 28)
    assert tasks[(Stage.MIDTERM, 0)].latest_date == date(2026, 5, 1)


async def test_cancelling_a_project_cancels_open_tasks_only(
    db: Database, clock: FixedClock, campaign_id: int
) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        tasks = await callbacks.get_for_project(s, project_id)
        attempt = await callbacks.start_attempt(
            s, task=tasks[0], made_by=MadeBy.CAMPAIGN, campaign_id=campaign_id, at=clock.now()
        )
        await callbacks.complete_attempt(
            s,
            attempt=attempt,
            outcome=Outcome.EFFECTIVE,
            at=clock.now(),
            satisfaction={"crew": Satisfaction.NEUTRAL},
        )
    async with db.session() as s:
        await projects.cancel(s, await projects.get_or_raise(s, project_id), rules=RULES)
    async with db.session() as s:
        statuses = [t.status for t in await callbacks.get_for_project(s, project_id)]
    assert statuses[0] is TaskStatus.DONE
    assert set(statuses[1:]) == {TaskStatus.CANCELLED}


async def test_attempt_is_written_before_the_outcome(
    db: Database, clock: FixedClock, campaign_id: int
) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        task = (await callbacks.get_for_project(s, project_id))[1]
        attempt = await callbacks.start_attempt(
            s,
            task=task,
            made_by=MadeBy.CAMPAIGN,
            campaign_id=campaign_id,
            at=clock.now(),
            dialed_number="13800138000",
        )
    async with db.session() as s:
        task = await callbacks.get_or_raise(s, task.id)
        assert task.status is TaskStatus.IN_PROGRESS and task.attempt_count == 1
        stored = found(await s.get(type(attempt), attempt.id), "the attempt")
        assert stored.outcome is None
        await callbacks.complete_attempt(s, attempt=stored, outcome=Outcome.BUSY, at=clock.now())
    async with db.session() as s:
        task = await callbacks.get_or_raise(s, task.id)
        assert task.status is TaskStatus.PENDING and not task.effective


async def test_unsatisfied_effective_callback_stays_open_for_follow_up(
    db: Database, clock: FixedClock
) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        agent = await _agent(s)
        task = (await callbacks.get_for_project(s, project_id))[2]
        await callbacks.log_attempt(
            s,
            task=task,
            made_by=MadeBy.AGENT,
            agent_id=agent.id,
            outcome=Outcome.EFFECTIVE,
            at=clock.now(),
            notes="客户反映墙面有裂缝，已反馈工程部",
            satisfaction={"quality": Satisfaction.UNSATISFIED, "crew": Satisfaction.SATISFIED},
        )
    async with db.session() as s:
        task = await callbacks.get_or_raise(s, task.id)
    assert task.effective and task.status is TaskStatus.PENDING


async def test_attempt_validation(db: Database, clock: FixedClock, campaign_id: int) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        task = (await callbacks.get_for_project(s, project_id))[0]
        with pytest.raises(ValidationError) as caught:
            await callbacks.log_attempt(
                s,
                task=task,
                made_by=MadeBy.CAMPAIGN,
                campaign_id=campaign_id,
                outcome=Outcome.EFFECTIVE,
                at=clock.now(),
            )
        assert caught.value.code == "satisfaction_required"
        with pytest.raises(ValidationError) as caught:
            await callbacks.log_attempt(
                s,
                task=task,
                made_by=MadeBy.CAMPAIGN,
                campaign_id=campaign_id,
                outcome=Outcome.NO_ANSWER,
                at=clock.now(),
                satisfaction={"quality": Satisfaction.SATISFIED},
            )
        assert caught.value.code == "satisfaction_not_allowed"
        with pytest.raises(ValidationError) as caught:
            await callbacks.log_attempt(
                s,
                task=task,
                made_by=MadeBy.CAMPAIGN,
                campaign_id=campaign_id,
                outcome=Outcome.CALL_LATER,
                at=clock.now(),
                call_back_at=clock.now() - timedelta(hours=1),
            )
        assert caught.value.problems[0].field == "call_back_at"
        assert (await callbacks.get_or_raise(s, task.id)).attempt_count == 0


async def test_call_later_sets_the_earliest_next_call(
    db: Database, clock: FixedClock, campaign_id: int
) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    later = clock.now() + timedelta(days=1, hours=3)
    async with db.session() as s:
        task = (await callbacks.get_for_project(s, project_id))[0]
        await callbacks.log_attempt(
            s,
            task=task,
            made_by=MadeBy.CAMPAIGN,
            campaign_id=campaign_id,
            outcome=Outcome.CALL_LATER,
            at=clock.now(),
            call_back_at=later,
        )
    async with db.session() as s:
        task = await callbacks.get_or_raise(s, task.id)
    assert task.status is TaskStatus.PENDING and task.not_before == later


async def test_non_compliant_projects(db: Database, clock: FixedClock, campaign_id: int) -> None:
    project_id = await _project(db, await _customer(db), **DATES)
    async with db.session() as s:
        tasks = await callbacks.get_for_project(s, project_id)
        for task in tasks[:2]:
            await callbacks.log_attempt(
                s,
                task=task,
                made_by=MadeBy.CAMPAIGN,
                campaign_id=campaign_id,
                outcome=Outcome.EFFECTIVE,
                at=clock.now(),
                satisfaction={"quality": Satisfaction.SATISFIED},
            )
    async with db.session() as s:
        assert await callbacks.non_compliant_projects(s, today=date(2026, 4, 23)) == []
        missing = await callbacks.non_compliant_projects(s, today=date(2026, 4, 24))
    assert [(p.id, stages) for p, stages in missing] == [(project_id, [Stage.MIDTERM])]


async def test_grade_change_reprioritises_tasks(db: Database) -> None:
    customer_id = await _customer(db)
    project_id = await _project(db, customer_id, **DATES)
    async with db.session() as s:
        customer = await customers.get_or_raise(s, customer_id)
        await customers.update(s, customer, grade=Grade.C)
    async with db.session() as s:
        assert {t.priority for t in await callbacks.get_for_project(s, project_id)} == {3}


async def test_users_passwords_and_unique_extensions(db: Database) -> None:
    async with db.session() as s:
        user = await users.create(
            s,
            username="agent1",
            password="correct horse",
            display_name="王小丽",
            role=Role.AGENT,
            extension="1001",
        )
        assert user.password_hash.startswith("$argon2")
        assert "correct horse" not in user.password_hash
    async with db.session() as s:
        assert found(await users.authenticate(s, "agent1", "correct horse")).id == user.id
        assert await users.authenticate(s, "agent1", "wrong") is None
        assert await users.authenticate(s, "nobody", "correct horse") is None
        with pytest.raises(Conflict):
            await users.create(
                s,
                username="agent2",
                password="password2",
                display_name="李",
                role=Role.AGENT,
                extension="1001",
            )
        with pytest.raises(ValidationError) as caught:
            await users.create(
                s, username="agent3", password="short", display_name="李", role=Role.AGENT
            )
        assert {p.field for p in caught.value.problems} == {"password", "extension"}
