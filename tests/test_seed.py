"""Tests for crm.demo.seed: a realistic, deterministic Xi'an company, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import re
import shutil
from collections import Counter
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, CallbackTask, Outcome, Satisfaction, Stage
from crm.callbacks.schedule import StageDates, check_stage_dates
from crm.callbacks.worklist import worklist
from crm.calls.models import Call
from crm.campaigns import service as campaigns
from crm.campaigns.rules import CallingHours
from crm.customers import service as customers
from crm.customers.models import Customer, Grade, Phone
from crm.db import Database
from crm.demo.seed import DEMO_LOGINS, DatabaseNotEmpty, plan_attempts, plan_customers, seed
from crm.dispositions import service as dispositions
from crm.dispositions.codes import load_codes
from crm.importer import derive_status
from crm.phones import PhoneKind
from crm.projects.models import Project, ProjectStatus
from crm.projects.service import current_stage
from crm.quality.models import QaAssignment, QaFeedback
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import Role, User
from crm.work_calendar import WorkCalendar, load_calendar

TODAY = date(2026, 11, 23)


async def test_seed_builds_a_company_at_every_stage(db: Database, settings: Settings) -> None:
    report = await seed(db, settings=settings, customers=80, today=TODAY)
    assert report.customers == 80
    assert sorted(report.users_created) == sorted(u for u, *_ in DEMO_LOGINS)
    async with db.session() as session:
        assert len(list(await session.scalars(select(Customer)))) == 80
        projects = list(await session.scalars(select(Project)))
        tasks = list(await session.scalars(select(CallbackTask)))
        attempts = list(
            await session.scalars(
                select(CallbackAttempt).options(selectinload(CallbackAttempt.task))
            )
        )
        late = await callbacks.non_compliant_projects(session, today=TODAY)
        agents = {u.id for u in await users.get_all(session) if u.role is Role.AGENT}
        assert await users.authenticate(session, "agent1", "demo1234") is not None

    assert report.projects == len(projects)
    assert {p.status for p in projects} == set(ProjectStatus)
    stages = {current_stage(p, TODAY) for p in projects if p.status is not ProjectStatus.CANCELLED}
    assert stages == {None, Stage.START, Stage.CONCEALED_WORKS, Stage.MIDTERM, Stage.COMPLETION}
    for project in projects:
        dates = StageDates.of_project(project)
        assert check_stage_dates(dates, project.status) == []
        assert re.fullmatch(r"XA20\d\d-\d{6}", project.contract_number)
        if project.status is not ProjectStatus.CANCELLED:
            assert derive_status(dates, TODAY) is project.status

    assert (report.callback_tasks, report.callback_attempts) == (len(tasks), len(attempts))
    assert report.non_compliant_projects == len(late) > 0
    assert_realistic_history(attempts, agents, settings)


def assert_realistic_history(
    attempts: list[CallbackAttempt], agents: set[int], settings: Settings
) -> None:
    """Made by the demo agents, in calling hours, on or after the due date, before today."""
    windows = settings.calling_hours
    hours = centre_hours(settings)
    for attempt in attempts:
        local = attempt.started_at.astimezone(settings.tz)
        assert any(start <= local.time() < end for start, end in windows), local
        assert hours.allows(attempt.started_at), local  # never on a public holiday
        assert attempt.task.due_date <= local.date() < TODAY
        assert attempt.agent_id in agents
    outcomes = Counter(a.outcome for a in attempts)
    assert outcomes[Outcome.EFFECTIVE] > outcomes[Outcome.NO_ANSWER] + outcomes[Outcome.BUSY] > 0
    quality = Counter(a.satisfaction_quality for a in attempts if a.outcome is Outcome.EFFECTIVE)
    assert quality[Satisfaction.SATISFIED] > 5 * quality[Satisfaction.NEUTRAL] > 0
    unhappy = [a for a in attempts if Satisfaction.UNSATISFIED in a.satisfaction().values()]
    assert unhappy and all("已" in a.notes for a in unhappy)  # 已反馈工程部, 已转设计部...


def centre_hours(settings: Settings) -> CallingHours:
    """The calling hours the product enforces: the settings' windows, closed on holidays."""
    return CallingHours(
        tuple(settings.calling_hours), settings.tz, load_calendar(settings.holidays_path)
    )


def test_planned_attempts_fall_on_days_open_for_calling() -> None:
    """Only one day of the task's window is open: every try, follow-up included, is on it or
    on the first open day after."""
    due = date(2026, 9, 21)
    shut = frozenset(due + timedelta(days=n) for n in range(10) if n != 3)
    calendar = WorkCalendar(holidays=shut)
    hours = [(time(9), time(12)), (time(14), time(20))]
    tz = ZoneInfo("Asia/Shanghai")
    seen = 0
    for n in range(300):
        for attempt in plan_attempts(
            random.Random(n),
            stage=Stage.MIDTERM,
            due=due,
            latest=due + timedelta(days=9),
            today=due + timedelta(days=30),
            hours=hours,
            tz=tz,
            calendar=calendar,
        ):
            seen += 1
            assert CallingHours(tuple(hours), tz, calendar).allows(attempt.at), attempt.at
    assert seen > 300
    assert (
        plan_attempts(
            random.Random(1),
            stage=Stage.MIDTERM,
            due=due,
            latest=due + timedelta(days=2),
            today=due + timedelta(days=30),
            hours=hours,
            tz=tz,
            calendar=calendar,
        )
        == []
    )  # no open day in the window: nobody called


async def test_the_demo_floor_is_at_work(db: Database, settings: Settings) -> None:
    """A running campaign, agent1's worklist with call backs promised for today, the past
    days' calls coded with every default disposition, and QA's queue with feedback — every
    call and attempt inside the calling hours the product enforces."""
    report = await seed(db, settings=settings, customers=80, today=TODAY)
    hours = centre_hours(settings)
    assert report.floor is not None
    async with db.session() as session:
        running = await campaigns.get_running(session)
        agent1 = await users.get_by_username(session, "agent1")
        assert agent1 is not None
        morning = datetime.combine(TODAY, time(9, 30), settings.tz)
        work = await worklist(session, agent_id=agent1.id, now=morning, tz=settings.tz)
        attempts = list(await session.scalars(select(CallbackAttempt)))
        answered = list(await session.scalars(select(Call).where(Call.answered_at.is_not(None))))
        start = datetime.combine(TODAY - timedelta(days=14), time(), settings.tz)
        coded = await dispositions.counts(
            session, start=start, end=datetime.combine(TODAY, time(), settings.tz)
        )
        queued = list(await session.scalars(select(QaAssignment)))
        sent = list(await session.scalars(select(QaFeedback)))

    assert [c.name for c in running] == [report.floor.campaign]
    assert running[0].agent_ids and running[0].started_at is not None

    promised = [item for item in work if item.mine]
    assert any(not item.mine for item in work)  # the shared pool's due callbacks too
    assert len(promised) == report.floor.promised_callbacks == 3
    for item in promised:
        assert item.promised_at is not None and hours.allows(item.promised_at)
        assert item.promised_at.astimezone(settings.tz).date() == TODAY

    for attempt in attempts:
        assert hours.allows(attempt.started_at), attempt.started_at
        assert attempt.started_at.astimezone(settings.tz).date() < TODAY
    assert len(answered) == report.floor.coded_calls > 0
    for call in answered:
        assert hours.allows(call.started_at) and call.agent_id is not None
    defaults = set(load_codes().names())
    assert {c.code for c in coded} == defaults  # every default code in use, none left uncoded
    assert sum(c.calls for c in coded) == len(answered)

    assert len(queued) == report.floor.qa_queued > 0
    assert [(f.agent_id, f.comment != "") for f in sent] == [(agent1.id, True)]


def test_the_plan_has_the_requested_mix() -> None:
    plan = plan_customers(2000, today=TODAY, rng_seed=2026)
    grades = Counter(c.grade for c in plan)
    for grade, share in ((Grade.A, 0.15), (Grade.B, 0.50), (Grade.C, 0.35)):
        assert abs(grades[grade] / 2000 - share) < 0.04
    assert 0.015 < sum(c.do_not_call_reason is not None for c in plan) / 2000 < 0.045
    projects = [p for c in plan for p in c.projects]
    statuses = Counter(p.status for p in projects)
    assert 0.015 < statuses[ProjectStatus.CANCELLED] / len(projects) < 0.045
    assert len({p.contract_number for p in projects}) == len(projects)
    year_ago = TODAY - timedelta(days=365)
    long_ago = [p for p in projects if p.fields.get("completion_date", TODAY) < year_ago]
    assert 0 < len(long_ago) < 0.1 * len(projects)
    gaps = (
        ("contract_date", "start_date", 7, 20),
        ("start_date", "concealed_works_date", 10, 20),
        ("concealed_works_date", "midterm_date", 20, 35),
        ("midterm_date", "completion_date", 25, 45),
    )
    for project in projects:
        for earlier, later, low, high in gaps:
            if later in project.fields:
                assert low <= (project.fields[later] - project.fields[earlier]).days <= high
    names = [c.name for c in plan]
    assert all(2 <= len(n) <= 3 for n in names)
    assert all(
        c.address.startswith("西安市") and re.search(r"\d+号楼\d单元\d+室$", c.address)
        for c in plan
    )


async def snapshot(database: Database) -> list[Any]:
    """Everything seeded, without database ids, for comparing two runs."""
    async with database.session() as session:
        found: list[Any] = []
        for c in await session.scalars(
            select(Customer).options(selectinload(Customer.phones)).order_by(Customer.id)
        ):
            found.append(
                (
                    c.name,
                    c.address,
                    c.grade,
                    c.notes,
                    c.do_not_call_reason,
                    [(p.number, p.raw, p.extension) for p in c.phones],
                )
            )
        for p in await session.scalars(select(Project).order_by(Project.contract_number)):
            found.append(
                (
                    p.contract_number,
                    p.status,
                    p.address,
                    p.designer,
                    p.foreman,
                    p.crew,
                    StageDates.of_project(p),
                )
            )
        rows = await session.execute(
            select(
                Project.contract_number,
                CallbackTask.stage,
                CallbackTask.month,
                CallbackTask.due_date,
                CallbackTask.status,
                CallbackAttempt.started_at,
                CallbackAttempt.outcome,
                CallbackAttempt.notes,
                User.username,
            )
            .join(CallbackTask, CallbackTask.project_id == Project.id)
            .outerjoin(CallbackAttempt, CallbackAttempt.task_id == CallbackTask.id)
            .outerjoin(User, User.id == CallbackAttempt.agent_id)
            .order_by(
                Project.contract_number,
                CallbackTask.stage,
                CallbackTask.month,
                CallbackAttempt.started_at,
            )
        )
        found += [tuple(r) for r in rows]
    return found


async def test_the_same_seed_gives_the_same_company(
    db: Database, settings: Settings, sqlite_template: Path, tmp_path: Path
) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "second.db")
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'second.db'}")
    try:
        await seed(db, settings=settings, customers=25, today=TODAY)
        await seed(other, settings=settings, customers=25, today=TODAY)
        first = await snapshot(db)
        assert first == await snapshot(other)
        assert len(first) > 25 + 25
    finally:
        await other.dispose()
    assert plan_customers(25, today=TODAY, rng_seed=1) != plan_customers(
        25, today=TODAY, rng_seed=2026
    )


def written_forms(number: str, kind: str) -> list[str]:
    """How people write a stored number: with country codes, trunk zeros, spaces, dashes."""
    if kind == PhoneKind.MOBILE:
        a, b, c = number[:3], number[3:7], number[7:]
        return [
            f"+86 {a} {b} {c}",
            f"0086-{number}",
            f"0{number}",
            f"{a}-{b}-{c}",
            f"+86{number}",
            f"86 {number}",
            f"({a}) {b} {c}",
        ]
    area = number[:4] if number.startswith("0") and number[1] not in "12" else number[:3]
    local = number[len(area) :]
    return [
        f"({area}){local[:4]} {local[4:]}",
        f"{area}-{local}",
        f"{area} {local[:4]}-{local[4:]}",
        f"+86 {area[1:]} {local}",
        f"0086-{area[1:]}-{local}",
        f"{local[:4]} {local[4:]}",
        f"{area}-{local}转801",
    ]


async def test_any_written_form_of_a_seeded_number_finds_its_customer(
    db: Database, settings: Settings
) -> None:
    await seed(db, settings=settings, customers=30, today=TODAY)
    async with db.session() as session:
        phones = list(await session.scalars(select(Phone).order_by(Phone.id)))
        assert {p.kind for p in phones} == {PhoneKind.MOBILE, PhoneKind.LANDLINE}
        assert any(p.raw != p.number for p in phones)  # the service normalised varied forms
        for phone in phones:
            for form in [phone.raw, *written_forms(phone.number, phone.kind)]:
                found = await customers.find_by_phone(
                    session, form, default_area_code=settings.default_area_code
                )
                assert [c.id for c in found] == [phone.customer_id], form


async def test_seed_keeps_users_and_refuses_to_mix_with_real_customers(
    db: Database, settings: Settings
) -> None:
    first = await seed(db, settings=settings, customers=3, today=TODAY)
    assert len(first.users_created) == len(DEMO_LOGINS)
    with pytest.raises(DatabaseNotEmpty):
        await seed(db, settings=settings, customers=3, today=TODAY)
    again = await seed(db, settings=settings, customers=0, today=TODAY)
    assert again.users_created == [] and len(again.users_skipped) == len(DEMO_LOGINS)

    forced = await seed(db, settings=settings, customers=3, today=TODAY, force=True)
    assert forced.customers == 3
    async with db.session() as session:
        numbers = list(await session.scalars(select(Phone.number)))
        contracts = list(await session.scalars(select(Project.contract_number)))
        assert len(list(await session.scalars(select(Customer)))) == 6
        everyone = await users.get_all(session)
        roles = Counter(u.role for u in everyone)
    assert len(set(numbers)) == len(numbers) and len(set(contracts)) == len(contracts)
    assert roles == {
        Role.AGENT: 3,
        Role.SUPERVISOR: 1,
        Role.QA: 1,
        Role.ADMIN: 1,
        Role.DEPARTMENT: 1,
    }
    assert {u.username: u.department for u in everyone if u.role is Role.DEPARTMENT} == {
        "engineering": "工程部"
    }
    assert [e for u, _, r, e in DEMO_LOGINS if r is Role.AGENT] == ["1001", "1002", "1003"]
