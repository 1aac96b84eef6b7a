"""The demo's working floor: a running campaign, call backs agent1 promised for today, the past
days' answered calls coded in wrap-up, and the QA review queue drawn from them with feedback.

Runs after the demo customers are written (crm.demo.seed), through the same services as the
live system, every call and attempt inside the centre's calling hours on a day the work
calendar does not close; the same `rng_seed` gives the same calls.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import cycle

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackAttempt, CallbackTask, MadeBy, Outcome, Stage, TaskStatus
from crm.calls import service as calls
from crm.calls.models import CallOutcome, Direction
from crm.calls.service import CallSnapshot
from crm.campaigns import service as campaigns
from crm.campaigns.models import DialMode
from crm.campaigns.rules import CallingHours
from crm.clock import day_start
from crm.customers import service as customers
from crm.demo import names as words
from crm.dispositions import service as dispositions
from crm.dispositions.codes import load_codes
from crm.quality import feedback, review_queue
from crm.quality.models import QaAssignment
from crm.quality.sampling import week_of
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import User
from crm.work_calendar import load_calendar

__all__ = ["FloorReport", "seed_floor"]

PROMISES = (time(10, 30), time(15, 0), time(18, 30))  # agent1's call backs, today
CALL_DAYS = 5  # the open days before today with coded calls
CALLS_PER_DAY = 6
CAMPAIGN_STAGE = Stage.COMPLETION  # what the running campaign dials
PROMISED_STAGES = (Stage.START, Stage.CONCEALED_WORKS, Stage.MIDTERM, Stage.POST_COMPLETION)


@dataclass(slots=True)
class FloorReport:
    campaign: str | None = None  # the running campaign's name
    promised_callbacks: int = 0
    coded_calls: int = 0
    qa_queued: int = 0
    qa_feedback: int = 0


def _moment(rng: random.Random, day: date, hours: CallingHours) -> datetime:
    """A random instant of `day` within the calling hours (the day must not be closed)."""
    spans = [
        (datetime.combine(day, a, hours.tz), datetime.combine(day, b, hours.tz))
        for a, b in hours.windows
    ]
    pick = rng.randrange(sum(int((b - a).total_seconds()) for a, b in spans))
    for start, end in spans:
        length = int((end - start).total_seconds())
        if pick < length:
            return start + timedelta(seconds=pick)
        pick -= length
    raise AssertionError("unreachable")


def _open_days_before(today: date, hours: CallingHours, count: int) -> list[date]:
    """The last `count` days before `today` on which calling was allowed, oldest first."""
    days: list[date] = []
    day = today
    while len(days) < count:
        day -= timedelta(days=1)
        if not hours.calendar.is_holiday(day):
            days.append(day)
    return days[::-1]


async def seed_floor(
    session: AsyncSession, *, settings: Settings, today: date, rng_seed: int
) -> FloorReport:
    report = FloorReport()
    hours = CallingHours(
        tuple(settings.calling_hours), settings.tz, load_calendar(settings.holidays_path)
    )
    people = {u.username: u for u in await users.get_all(session)}
    rng = random.Random(f"{rng_seed}:floor")
    report.campaign = await _campaign(session, people, hours, today)
    agent1 = people.get("agent1")
    if agent1 is not None:
        report.promised_callbacks = await _promises(session, rng, agent1, hours, today)
    agents = [people[n] for n in ("agent1", "agent2", "agent3") if n in people]
    if agents and all(a.extension for a in agents):
        call_ids = await _coded_calls(session, rng, settings, agents, hours, today)
        report.coded_calls = len(call_ids)
        if call_ids and "qa" in people:
            report.qa_queued, report.qa_feedback = await _quality(
                session, settings, people["qa"], agents[0], hours, today
            )
    return report


async def _campaign(
    session: AsyncSession, people: dict[str, User], hours: CallingHours, today: date
) -> str | None:
    """The completion callbacks, dialed for the simulated colleagues (agent1's promises are of
    other stages, so the dialer never takes one of them)."""
    owner = people.get("supervisor")
    if owner is None:
        return None
    agent_ids = [people[n].id for n in ("agent2", "agent3") if n in people]
    campaign = await campaigns.create(
        session,
        owner_id=owner.id,
        name=words.DEMO_CAMPAIGN,
        mode=DialMode.AGENT_FIRST,
        stages=[CAMPAIGN_STAGE.value],
        agent_ids=agent_ids,
        max_concurrent=1,
    )
    midnight = day_start(today, hours.tz)
    opening = hours.next_opening(midnight) or midnight
    await campaigns.transition(session, campaign, "start", at=opening)
    return campaign.name


async def _promises(
    session: AsyncSession, rng: random.Random, agent: User, hours: CallingHours, today: date
) -> int:
    """Callbacks due (or overdue) and still open that agent1 reached on the last open day (after
    any earlier tries), whose customer asked to be called back later today (稍后再打): theirs,
    on their worklist, reminded on time."""
    (last_open,) = _open_days_before(today, hours, 1)
    tasks = list(
        await session.scalars(
            select(CallbackTask)
            .where(
                CallbackTask.status.in_((TaskStatus.PENDING, TaskStatus.IN_PROGRESS)),
                CallbackTask.stage.in_(PROMISED_STAGES),
                CallbackTask.due_date <= last_open,
                ~select(CallbackAttempt.id)
                .where(
                    CallbackAttempt.task_id == CallbackTask.id,
                    CallbackAttempt.started_at >= day_start(last_open, hours.tz),
                )
                .exists(),
            )
            .order_by(CallbackTask.latest_date.desc(), CallbackTask.id)  # the least late first
            .limit(len(PROMISES))
        )
    )
    for task, promised in zip(tasks, PROMISES, strict=False):
        call_back_at = hours.next_opening(datetime.combine(today, promised, hours.tz))
        await callbacks.log_attempt(
            session,
            task=task,
            made_by=MadeBy.AGENT,
            outcome=Outcome.CALL_LATER,
            at=_moment(rng, last_open, hours),
            agent_id=agent.id,
            notes=rng.choice(words.PROMISE_NOTES),
            call_back_at=call_back_at,
        )
    return len(tasks)


async def _coded_calls(
    session: AsyncSession,
    rng: random.Random,
    settings: Settings,
    agents: list[User],
    hours: CallingHours,
    today: date,
) -> list[int]:
    """Customers' calls to the service queue on the last open days, answered by the agents in
    turn and coded in wrap-up, every configured code in use."""
    numbers = await customers.phone_numbers(session, limit=500, callable_only=True)
    if not numbers:
        return []
    codes = load_codes(settings.disposition_codes_path)
    code_names = cycle(codes.names())
    taker = cycle(agents)
    snapshots: list[tuple[CallSnapshot, User, str]] = []
    for day in _open_days_before(today, hours, CALL_DAYS):
        for started in sorted(_moment(rng, day, hours) for _ in range(CALLS_PER_DAY)):
            agent, number = next(taker), rng.choice(numbers)
            answered = started + timedelta(seconds=rng.randint(3, 25))
            talk = rng.randint(60, 420)
            extension = agent.extension or ""
            snapshot = CallSnapshot(
                linkedid=f"demo-{started:%Y%m%d%H%M%S}-{len(snapshots)}",
                direction=Direction.INBOUND,
                started_at=started,
                caller=number,
                customer_number=number,
                queue=settings.queue,
                agents_rung=(extension,),
                agent_interface=settings.agent_interface_template.format(extension=extension),
                agent_extension=extension,
                agents_connected=(extension,),
                outcome=CallOutcome.ANSWERED,
                answered_at=answered,
                ended_at=answered + timedelta(seconds=talk),
                wait_seconds=(answered - started).total_seconds(),
                talk_seconds=float(talk),
            )
            snapshots.append((snapshot, agent, next(code_names)))
    await calls.store_calls(
        session,
        pbx_id=settings.pbx_id,
        calls=[s for s, _, _ in snapshots],
        default_area_code=settings.default_area_code,
    )
    coded = []
    for snapshot, agent, code in snapshots:
        call = await calls.get_by_linkedid(
            session, pbx_id=settings.pbx_id, linkedid=snapshot.linkedid
        )
        assert call is not None and snapshot.ended_at is not None
        await dispositions.code_call(
            session,
            call_id=call.id,
            agent_id=agent.id,
            own_calls_only=True,
            code=code,
            note=rng.choice(words.DISPOSITION_NOTES.get(code, ("",))),
            customer_id=None,
            project_id=None,
            codes=codes,
            at=snapshot.ended_at + timedelta(seconds=rng.randint(10, 90)),
        )
        coded.append(call.id)
    return coded


async def _quality(
    session: AsyncSession,
    settings: Settings,
    reviewer: User,
    agent: User,
    hours: CallingHours,
    today: date,
) -> tuple[int, int]:
    """The review queue the sampling rules draw from those calls, and the reviewer's feedback
    on the first of agent1's calls drawn."""
    now = datetime.combine(today, hours.windows[0][0], hours.tz)
    this_week = week_of(now, hours.tz)
    weeks = sorted(
        {
            week_of(datetime.combine(d, time(12), hours.tz), hours.tz)
            for d in _open_days_before(today, hours, CALL_DAYS)
        }
        | {this_week}
    )
    run = await review_queue.sample(
        session,
        weeks=weeks,
        rules=review_queue.rules_of(settings),
        key=review_queue.key_of(settings),
        tz=hours.tz,
        now=now,
    )
    drawn = await session.scalar(
        select(QaAssignment.call_id)
        .where(QaAssignment.agent_id == agent.id)
        .order_by(QaAssignment.call_id)
        .limit(1)
    )
    if drawn is None:
        return len(run.added), 0
    await feedback.send(
        session, call_id=drawn, reviewer_id=reviewer.id, comment=words.QA_FEEDBACK, at=now
    )
    return len(run.added), 1
