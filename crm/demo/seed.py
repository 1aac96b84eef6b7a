"""Demo data for a Xi'an (西安, 029) renovation company: what `callcentre seed --customers N` runs.

The company is planned first, as plain data drawn from one seeded random generator
(`plan_customers`, `plan_attempts`), so a given `rng_seed` always gives the same names, numbers,
contracts and callback history; then it is written through the services, so phones are
normalised and callbacks planned exactly as for hand-entered customers. Projects are spread
over every stage relative to `today`, and the callbacks already due have a realistic history
(retries, satisfied and unsatisfied customers, a few stages nobody reached).

Demo logins (`DEMO_LOGINS`), all with the password `demo1234`:

| username | role | extension |
|---|---|---|
| agent1, agent2, agent3 | agent (客服专员) | 1001, 1002, 1003 |
| supervisor | supervisor (客服经理) | 1009 (the phone that listens in from the wallboard) |
| qa | QA reviewer (质检) | |
| admin | admin | |
| engineering | department (工程部): its complaints, callback records under a grant | |
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks import service as callbacks
from crm.callbacks.models import (
    CallbackAttempt,
    CallbackTask,
    MadeBy,
    Outcome,
    Satisfaction,
    Stage,
    TaskStatus,
)
from crm.callbacks.schedule import ScheduleRules, StageDates
from crm.customers import service as customers_service
from crm.customers.models import Customer, Grade, Phone
from crm.db import Database
from crm.demo import names as words
from crm.demo.floor import FloorReport, seed_floor
from crm.errors import Conflict
from crm.one_of import one_of
from crm.projects import service as projects_service
from crm.projects.models import Project, ProjectStatus
from crm.projects.service import derive_status
from crm.settings import Settings
from crm.users import service as users_service
from crm.users.models import Role, User
from crm.work_calendar import WorkCalendar, load_calendar

__all__ = [
    "DEMO_LOGINS",
    "DEMO_PASSWORD",
    "DatabaseNotEmpty",
    "DemoCustomer",
    "DemoProject",
    "PlannedAttempt",
    "SeedReport",
    "plan_attempts",
    "plan_customers",
    "seed",
]

DEMO_PASSWORD = "demo1234"
# (username, password, role, extension): printed by the demo so people can log in.
DEMO_LOGINS: list[tuple[str, str, Role, str | None]] = [
    ("agent1", DEMO_PASSWORD, Role.AGENT, "1001"),
    ("agent2", DEMO_PASSWORD, Role.AGENT, "1002"),
    ("agent3", DEMO_PASSWORD, Role.AGENT, "1003"),
    ("supervisor", DEMO_PASSWORD, Role.SUPERVISOR, "1009"),
    ("qa", DEMO_PASSWORD, Role.QA, None),
    ("admin", DEMO_PASSWORD, Role.ADMIN, None),
    ("engineering", DEMO_PASSWORD, Role.DEPARTMENT, None),
]
DEMO_DEPARTMENTS = {"engineering": "工程部"}
DEMO_DISPLAY_NAMES = {
    "agent1": "王丽",
    "agent2": "李娜",
    "agent3": "张敏",
    "supervisor": "陈静（客服经理）",
    "qa": "赵婷（质检）",
    "admin": "系统管理员",
    "engineering": "刘强（工程部）",
}

NO_HOLIDAYS = WorkCalendar()
BATCH = 100  # customers written (and then let go by the session) at a time
Progress = Callable[[str, int, int], None]


class DatabaseNotEmpty(Conflict):
    """Seeding demo customers next to real ones would mix them up; `force=True` overrides."""


# --- the plan: pure data ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoProject:
    contract_number: str
    status: ProjectStatus
    fields: dict[str, Any]  # keyword arguments of crm.projects.service.create
    neglected: bool  # one past stage is left without an effective callback


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    name: str
    phones: tuple[str, ...]  # as a clerk wrote them; the service stores them normalised
    address: str
    grade: Grade
    notes: str
    do_not_call_reason: str | None
    projects: tuple[DemoProject, ...]


# Where a project stands today, with weights (percent of projects): mostly under construction,
# completed ones mostly within the last half year (each completed month adds a callback).
_SCENARIOS = {
    "signed": 12,
    "start": 18,
    "concealed_works": 18,
    "midterm": 17,
    "completed": 28,
    "completed_long_ago": 4,
    "cancelled": 3,
}
# Days from one milestone to the next: contract→start→concealed works→midterm→completion.
_GAPS = ((7, 20), (10, 20), (20, 35), (25, 45))
_DATE_FIELDS = (
    "contract_date",
    "start_date",
    "concealed_works_date",
    "midterm_date",
    "completion_date",
)
_STAGE_INDEX = {"start": 1, "concealed_works": 2, "midterm": 3}
_GRADE_WEIGHTS = {Grade.A: 15, Grade.B: 50, Grade.C: 35}
_SURNAME_WEIGHTS = list(itertools.accumulate(1 / (i + 8) for i in range(len(words.SURNAMES))))


def _weighted(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Planner:
    """Draws the demo company from one random generator, in a fixed order."""

    def __init__(
        self,
        rng: random.Random,
        today: date,
        taken_numbers: frozenset[str],
        taken_contracts: frozenset[str],
        first_sequence: int,
    ) -> None:
        self.rng = rng
        self.today = today
        self.numbers = set(taken_numbers)
        self.taken_contracts = taken_contracts
        self.sequence = itertools.count(first_sequence)

    def customer(self) -> DemoCustomer:
        rng = self.rng
        address = self.address()
        count = _weighted(rng, {0: 5, 1: 90, 2: 5})
        addresses = [address] + [self.address() for _ in range(count - 1)]
        dnc = rng.choice(words.DO_NOT_CALL_REASONS) if rng.random() < 0.03 else None
        return DemoCustomer(
            name=self.name(),
            phones=self.phones(),
            address=address,
            grade=_weighted(rng, _GRADE_WEIGHTS),
            notes=rng.choice(words.CUSTOMER_NOTES) if rng.random() < 0.15 else "",
            do_not_call_reason=dnc,
            projects=tuple(self.project(a) for a in addresses),
        )

    def name(self) -> str:
        surname = self.rng.choices(words.SURNAMES, cum_weights=_SURNAME_WEIGHTS)[0]
        size = 1 if self.rng.random() < 0.3 else 2
        return surname + "".join(self.rng.choices(words.GIVEN_NAME_CHARACTERS, k=size))

    def address(self) -> str:
        rng = self.rng
        district = rng.choice(list(words.DISTRICTS))
        road = rng.choice(words.DISTRICTS[district])
        floor, room = rng.randint(1, 33), rng.randint(1, 4)
        return (
            f"{words.CITY}{district}{road}{rng.randint(1, 399)}号{rng.choice(words.COMPOUNDS)}"
            f"{rng.randint(1, 28)}号楼{rng.randint(1, 4)}单元{floor}{room:02d}室"
        )

    def phones(self) -> tuple[str, ...]:
        written = [self.write_mobile(self.unique(self.mobile))]
        if self.rng.random() < 0.15:  # a family member's mobile
            written.append(self.write_mobile(self.unique(self.mobile)))
        if self.rng.random() < 0.2:
            written.append(self.write_landline(self.unique(self.landline)))
        return tuple(written)

    def unique(self, draw: Callable[[], str]) -> str:
        while (number := draw()) in self.numbers:
            pass
        self.numbers.add(number)
        return number

    def mobile(self) -> str:
        return self.rng.choice(words.MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def landline(self) -> str:
        return words.AREA_CODE + self.rng.choice("8886") + f"{self.rng.randrange(10**7):07d}"

    def write_mobile(self, n: str) -> str:
        """The ways clerks write a mobile; the service must store them all as `n`."""
        forms = {
            n: 50,
            f"{n[:3]} {n[3:7]} {n[7:]}": 18,
            f"{n[:3]}-{n[3:7]}-{n[7:]}": 14,
            f"+86 {n}": 8,
            f"+86 {n[:3]} {n[3:7]} {n[7:]}": 4,
            f"0086-{n}": 3,
            f"86{n}": 3,
        }
        return _weighted(self.rng, forms)

    def write_landline(self, n: str) -> str:
        area, s = n[:3], n[3:]
        extension = self.rng.randint(801, 809)
        forms = {
            f"{area}-{s}": 35,
            f"{area}-{s[:4]} {s[4:]}": 20,
            f"({area}){s[:4]} {s[4:]}": 15,
            f"{area} {s}": 10,
            f"{s[:4]}-{s[4:]}": 10,
            f"{area}-{s}转{extension}": 5,
            f"+86 {area[1:]} {s}": 5,
        }
        return _weighted(self.rng, forms)

    def contract_number(self, signed: date) -> str:
        while (number := f"XA{signed.year}-{next(self.sequence):06d}") in self.taken_contracts:
            pass
        return number

    def project(self, address: str) -> DemoProject:
        rng = self.rng
        dates, cancelled = self.timeline(_weighted(rng, _SCENARIOS))
        status = (
            ProjectStatus.CANCELLED
            if cancelled
            else derive_status(StageDates.of_project(dates), self.today)
        )
        crew = rng.randrange(len(words.CREWS))
        fields = {
            "address": address,
            "designer": rng.choice(words.DESIGNERS),
            "project_manager": rng.choice(words.PROJECT_MANAGERS),
            "foreman": words.FOREMEN[crew % len(words.FOREMEN)],
            "crew": words.CREWS[crew],
            **dates,
        }
        return DemoProject(
            self.contract_number(dates["contract_date"]),
            status,
            fields,
            neglected=rng.random() < 0.03,
        )

    def timeline(self, scenario: str) -> tuple[dict[str, date], bool]:
        """Milestone dates in the order of the works, placing today where `scenario` says."""
        gaps = [self.rng.randint(low, high) for low, high in _GAPS]
        offsets = [0, *itertools.accumulate(gaps)]  # days from the contract to each milestone
        reached, since, planned = self.position(scenario, gaps)
        contract = self.today - timedelta(days=since + offsets[reached])
        dates = {
            name: contract + timedelta(days=offsets[i])
            for i, name in enumerate(_DATE_FIELDS[: reached + planned + 1])
        }
        return dates, scenario == "cancelled"

    def position(self, scenario: str, gaps: list[int]) -> tuple[int, int, int]:
        """(last milestone passed: 0 contract … 4 completion, days since, future ones shown)."""
        rng = self.rng
        if scenario == "signed":  # half of them already have a planned start date
            return 0, rng.randrange(gaps[0]), int(rng.random() < 0.5)
        if scenario in _STAGE_INDEX:  # under construction, before the next milestone
            reached = _STAGE_INDEX[scenario]
            return reached, rng.randrange(gaps[reached]), 0
        if scenario == "completed":
            return 4, rng.randint(1, 200), 0
        if scenario == "completed_long_ago":
            return 4, rng.randint(366, 720), 0
        return rng.randint(0, 2), rng.randint(5, 60), 0  # cancelled


def plan_customers(
    count: int,
    *,
    today: date,
    rng_seed: int,
    taken_numbers: frozenset[str] = frozenset(),
    taken_contracts: frozenset[str] = frozenset(),
    first_sequence: int = 1,
) -> list[DemoCustomer]:
    """The demo customers and their projects; the same arguments always give the same list."""
    planner = _Planner(
        random.Random(rng_seed), today, taken_numbers, taken_contracts, first_sequence
    )
    return [planner.customer() for _ in range(count)]


@dataclass(frozen=True, slots=True)
class PlannedAttempt:
    at: datetime
    outcome: Outcome
    satisfaction: dict[str, Satisfaction] | None = None
    notes: str = ""
    call_back_at: datetime | None = None


def _moment(
    rng: random.Random, day: date, hours: Sequence[tuple[time, time]], tz: ZoneInfo
) -> datetime:
    """A random instant within the calling hours of `day`, local time."""
    spans = [(datetime.combine(day, a, tz), datetime.combine(day, b, tz)) for a, b in hours]
    seconds = [int((end - start).total_seconds()) for start, end in spans]
    pick = rng.randrange(sum(seconds))
    for (start, _), length in zip(spans, seconds, strict=True):
        if pick < length:
            return start + timedelta(seconds=pick)
        pick -= length
    raise AssertionError("unreachable")


def _answer(rng: random.Random, stage: Stage) -> tuple[dict[str, Satisfaction], str, bool]:
    """What a reached customer says: mostly satisfied, some neutral, a few unsatisfied."""
    areas = (
        ["quality"]
        if stage is Stage.POST_COMPLETION
        else ["quality", "crew", "supervisor", "designer"]
    )
    answer = dict.fromkeys(areas, Satisfaction.SATISFIED)
    roll = rng.random()
    if roll < 0.82:
        return answer, rng.choice(words.SATISFIED_NOTES[stage.value]), False
    if roll < 0.94:
        answer[rng.choice(areas)] = Satisfaction.NEUTRAL
        return answer, rng.choice(words.NEUTRAL_NOTES), False
    area, note = rng.choice([n for n in words.UNSATISFIED_NOTES if n[0] in areas])
    answer[area] = Satisfaction.UNSATISFIED
    return answer, note, True


def plan_attempts(
    rng: random.Random,
    *,
    stage: Stage,
    due: date,
    latest: date,
    today: date,
    hours: Sequence[tuple[time, time]],
    tz: ZoneInfo,
    calendar: WorkCalendar = NO_HOLIDAYS,
    mode: str = "normal",
) -> list[PlannedAttempt]:
    """The calls already made for a task due before `today`, each within the calling `hours`
    of a day the `calendar` does not close (no calls on public holidays).

    mode "normal": a few unanswered tries, then the customer answers (an unsatisfied answer
    usually gets a follow-up call once the department has fixed it); "neglected": only
    unanswered tries, so the stage stays without an effective callback; "refused": the
    customer refuses and asks not to be called again.
    """
    last_day = min(latest, today - timedelta(days=1))
    open_days = [
        day
        for day in (due + timedelta(days=n) for n in range((last_day - due).days + 1))
        if not calendar.is_holiday(day)
    ]
    if not open_days:
        return []

    def when() -> datetime:
        return _moment(rng, rng.choice(open_days), hours, tz)

    if mode == "refused":
        return [PlannedAttempt(when(), Outcome.REFUSED, notes="客户要求不再回访")]
    failures = rng.randint(0, 2) if mode == "neglected" else _weighted(rng, {0: 70, 1: 20, 2: 10})
    moments = sorted(when() for _ in range(failures + (mode != "neglected")))
    planned = [_failure(rng, at) for at in moments[:failures]]
    if mode == "neglected":
        return planned
    answered = moments[-1]
    if planned and planned[-1].at < answered and rng.random() < 0.15:
        planned[-1] = PlannedAttempt(
            planned[-1].at,
            Outcome.CALL_LATER,
            notes=rng.choice(words.CALL_LATER_NOTES),
            call_back_at=answered,
        )
    satisfaction, notes, unsatisfied = _answer(rng, stage)
    planned.append(PlannedAttempt(answered, Outcome.EFFECTIVE, satisfaction, notes))
    follow_up = answered.date() + timedelta(days=rng.randint(3, 7))
    while calendar.is_holiday(follow_up):
        follow_up += timedelta(days=1)
    if unsatisfied and follow_up < today and rng.random() < 0.8:
        planned.append(
            PlannedAttempt(
                _moment(rng, follow_up, hours, tz),
                Outcome.EFFECTIVE,
                dict.fromkeys(satisfaction, Satisfaction.SATISFIED),
                rng.choice(words.FOLLOW_UP_NOTES),
            )
        )
    return planned


def _failure(rng: random.Random, at: datetime) -> PlannedAttempt:
    if rng.random() < 0.7:
        return PlannedAttempt(at, Outcome.NO_ANSWER, notes=rng.choice(words.NO_ANSWER_NOTES))
    return PlannedAttempt(at, Outcome.BUSY, notes=rng.choice(words.BUSY_NOTES))


# --- writing ------------------------------------------------------------------------------


@dataclass(slots=True)
class SeedReport:
    users_created: list[str] = field(default_factory=list)
    users_skipped: list[str] = field(default_factory=list)  # already there, or clashing
    customers: int = 0
    phones: int = 0
    projects: int = 0
    projects_by_status: dict[str, int] = field(default_factory=dict)
    callback_tasks: int = 0
    callback_attempts: int = 0
    non_compliant_projects: int = 0  # in the whole database, after seeding
    floor: FloorReport | None = None  # the campaign, promises, coded calls, QA: first seed only
    logins: list[tuple[str, str, Role, str | None]] = field(
        default_factory=lambda: list(DEMO_LOGINS)
    )


async def seed(
    database: Database,
    *,
    settings: Settings,
    customers: int,
    today: date,
    rng_seed: int = 2026,
    force: bool = False,
    progress: Progress | None = None,
) -> SeedReport:
    """Demo users (skipping existing ones) and `customers` demo customers, in one transaction.

    Refuses (DatabaseNotEmpty) to add customers to a database that has some, unless `force`.
    Into an empty database, also the floor at work (crm.demo.floor): a running campaign,
    agent1's promised call backs, the last days' calls coded, QA's queue and feedback.
    """
    report = SeedReport()
    async with database.session() as session:
        existing = await _count(session, Customer)
        if customers and existing and not force:
            raise DatabaseNotEmpty(
                f"the database already has {existing} customers; seeding demo customers "
                "next to them needs force",
                code="database_not_empty",
            )
        await _ensure_users(session, report)
        if customers:
            plan = await _plan(session, customers, today, rng_seed, crowded=bool(existing))
            writer = _Writer(session, settings, today, rng_seed, await _agent_ids(session))
            await _write_plan(session, writer, plan, report, progress, floor=not existing)
        late = await callbacks.non_compliant_projects(session, today=today)
        report.non_compliant_projects = len(late)
    return report


async def _write_plan(
    session: AsyncSession,
    writer: _Writer,
    plan: Sequence[DemoCustomer],
    report: SeedReport,
    progress: Progress | None,
    *,
    floor: bool,
) -> None:
    tasks, attempts = await _count(session, CallbackTask), await _count(session, CallbackAttempt)
    await writer.write(plan, progress)
    if floor:  # once, in a database of demo customers only: not again beside real work
        report.floor = await seed_floor(
            session, settings=writer.settings, today=writer.today, rng_seed=writer.rng_seed
        )
    projects = [p for c in plan for p in c.projects]
    report.customers = len(plan)
    report.phones = writer.phones
    report.projects = len(projects)
    report.projects_by_status = dict(Counter(p.status.value for p in projects))
    report.callback_tasks = await _count(session, CallbackTask) - tasks
    report.callback_attempts = await _count(session, CallbackAttempt) - attempts


async def _count(session: AsyncSession, model: type[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _ensure_users(session: AsyncSession, report: SeedReport) -> None:
    for username, password, role, extension in DEMO_LOGINS:
        if await users_service.get_by_username(session, username) is not None:
            report.users_skipped.append(username)
            continue
        try:
            await users_service.create(
                session,
                username=username,
                password=password,
                display_name=DEMO_DISPLAY_NAMES[username],
                role=role,
                extension=extension,
                department=DEMO_DEPARTMENTS.get(username),
            )
        except Conflict as exc:  # e.g. a real agent already has extension 1001
            report.users_skipped.append(f"{username}: {exc}")
        else:
            report.users_created.append(username)


async def _agent_ids(session: AsyncSession) -> list[int]:
    """Who made the demo calls: the demo agents, or any agent if they could not be created."""
    demo = [name for name, _, role, _ in DEMO_LOGINS if role is Role.AGENT]
    ids = list(
        await session.scalars(
            select(User.id).where(one_of(User.username, demo)).order_by(User.username)
        )
    )
    if not ids:
        ids = list(
            await session.scalars(select(User.id).where(User.role == Role.AGENT).order_by(User.id))
        )
    return ids


async def _plan(
    session: AsyncSession, count: int, today: date, rng_seed: int, *, crowded: bool
) -> list[DemoCustomer]:
    """The plan, steering clear of numbers and contracts already in a non-empty database."""
    numbers: frozenset[str] = frozenset()
    contracts: frozenset[str] = frozenset()
    if crowded:
        numbers = frozenset(await session.scalars(select(Phone.number)))
        contracts = frozenset(await session.scalars(select(Project.contract_number)))
    return plan_customers(
        count,
        today=today,
        rng_seed=rng_seed,
        taken_numbers=numbers,
        taken_contracts=contracts,
        first_sequence=len(contracts) + 1,
    )


def _batches(items: Sequence[DemoCustomer], size: int) -> Iterator[Sequence[DemoCustomer]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Writer:
    """Writes planned customers through the services, then the history of their due callbacks."""

    def __init__(
        self,
        session: AsyncSession,
        settings: Settings,
        today: date,
        rng_seed: int,
        agents: list[int],
    ) -> None:
        self.session = session
        self.settings = settings
        self.rules = ScheduleRules.from_settings(settings)
        self.calendar = load_calendar(settings.holidays_path)
        self.today = today
        self.rng_seed = rng_seed
        self.agents = agents
        self.phones = 0

    async def write(self, plan: Sequence[DemoCustomer], progress: Progress | None) -> None:
        done = 0
        for batch in _batches(plan, BATCH):
            written: list[tuple[int, DemoProject, DemoCustomer]] = []
            for demo in batch:
                written += await self.customer(demo)
            if self.agents:
                await self.history(written)
            # Everything is flushed: let the session forget it, so memory stays flat.
            self.session.expunge_all()
            done += len(batch)
            if progress:
                progress("customers", done, len(plan))

    async def customer(self, demo: DemoCustomer) -> list[tuple[int, DemoProject, DemoCustomer]]:
        dnc = demo.do_not_call_reason is not None
        customer = await customers_service.create(
            self.session,
            name=demo.name,
            phones=demo.phones,
            address=demo.address,
            grade=demo.grade,
            notes=demo.notes,
            do_not_call=dnc,
            do_not_call_reason=demo.do_not_call_reason,
            default_area_code=words.AREA_CODE,
        )
        self.phones += len(customer.phones)
        written = []
        for planned in demo.projects:
            project = await projects_service.create(
                self.session,
                customer=customer,
                contract_number=planned.contract_number,
                rules=self.rules,
                status=planned.status,
                **planned.fields,
            )
            written.append((project.id, planned, demo))
        return written

    async def history(self, written: list[tuple[int, DemoProject, DemoCustomer]]) -> None:
        """Attempts for every open task already due, made by the demo agents."""
        ids = [project_id for project_id, _, _ in written]
        query = (
            select(CallbackTask)
            .where(
                one_of(CallbackTask.project_id, ids),
                CallbackTask.due_date < self.today,
                CallbackTask.status.in_((TaskStatus.PENDING, TaskStatus.IN_PROGRESS)),
            )
            .order_by(CallbackTask.project_id, CallbackTask.due_date, CallbackTask.month)
        )
        tasks: dict[int, list[CallbackTask]] = {}
        for task in await self.session.scalars(query):
            tasks.setdefault(task.project_id, []).append(task)
        for project_id, planned, demo in written:
            rng = random.Random(f"{self.rng_seed}:{planned.contract_number}")
            await self.project_history(rng, tasks.get(project_id, []), planned, demo)

    async def project_history(
        self,
        rng: random.Random,
        tasks: list[CallbackTask],
        planned: DemoProject,
        demo: DemoCustomer,
    ) -> None:
        neglect = planned.neglected
        refused = demo.do_not_call_reason is not None
        agent = self.agents[rng.randrange(len(self.agents))]
        for task in tasks:
            mode = "normal"
            if refused:
                mode = "refused" if task is tasks[0] else "skip"
            elif neglect and task.month == 0 and task.latest_date < self.today:
                mode, neglect = "neglected", False  # a construction stage left unreached
            elif task.latest_date >= self.today and rng.random() < 0.4:
                mode = "skip"  # still within its window: on today's work list
            if mode != "skip":
                await self.log(
                    task,
                    agent,
                    plan_attempts(
                        rng,
                        stage=task.stage,
                        due=task.due_date,
                        latest=task.latest_date,
                        today=self.today,
                        hours=self.settings.calling_hours,
                        tz=self.settings.tz,
                        calendar=self.calendar,
                        mode=mode,
                    ),
                )

    async def log(self, task: CallbackTask, agent: int, attempts: list[PlannedAttempt]) -> None:
        for attempt in attempts:
            await callbacks.log_attempt(
                self.session,
                task=task,
                made_by=MadeBy.AGENT,
                outcome=attempt.outcome,
                at=attempt.at,
                agent_id=agent,
                satisfaction=attempt.satisfaction,
                notes=attempt.notes,
                call_back_at=attempt.call_back_at,
            )
