"""A small call centre with a known history, for the report tests: every figure the reports
show for it was worked out by hand (see tests/test_reports.py).

The weekly report's week is Tuesday 10 November to Monday 16 November 2026 (due Tuesday the
17th); the daily figures are for Thursday 12 November; the month is November 2026 and the
clock stands at Monday 23 November 10:00 (Asia/Shanghai)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackTask, MadeBy, Outcome, Satisfaction, Stage
from crm.callbacks.schedule import ScheduleRules
from crm.calls.models import Call, CallOutcome, Direction
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource, ComplaintStatus
from crm.customers import service as customers
from crm.customers.models import Customer, Grade
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import Project, ProjectStatus
from crm.quality.models import CallScore, ReviewDecision, RuleReview
from crm.repairs.models import Repair, RepairStatus
from crm.users import service as users
from crm.users.models import Role, User

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
WEEK_DAY = date(2026, 11, 17)  # the Tuesday the weekly report is due: week ending the 16th
DAILY_DAY = date(2026, 11, 12)
MONTH_DAY = date(2026, 11, 5)
RULES = ScheduleRules(window_days=3, post_completion_months=2)
RULE_POINTS = {"answer_within_3_rings": 1, "greeting": 2, "forbidden_phrases": 3, "closing": 2}
PASSWORD = "password-1"
S, N, U = Satisfaction.SATISFIED, Satisfaction.NEUTRAL, Satisfaction.UNSATISFIED
ALL_SATISFIED = {"quality": S, "crew": S, "supervisor": S, "designer": S}


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=TZ)


@dataclass
class ReportFixture:
    users: dict[str, int] = field(default_factory=dict)
    projects: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    complaints: dict[str, int] = field(default_factory=dict)


_linked = count(1)


async def _user(
    session: AsyncSession, username: str, name: str, role: Role, extension: str | None = None
) -> User:
    user = await users.get_by_username(session, username)
    if user is None:
        user = await users.create(
            session,
            username=username,
            password=PASSWORD,
            display_name=name,
            role=role,
            extension=extension,
        )
    else:
        user.display_name = name
    return user


async def _project(
    session: AsyncSession, name: str, phone: str, contract: str, **fields: Any
) -> tuple[Customer, Project]:
    customer = await customers.create(
        session, name=name, phones=[phone], grade=Grade.B, default_area_code="029"
    )
    project = await projects.create(
        session, customer=customer, contract_number=contract, rules=RULES, **fields
    )
    return customer, project


async def _task(
    session: AsyncSession, project: Project, stage: Stage, month: int = 0
) -> CallbackTask:
    tasks = await callbacks.get_for_project(session, project.id)
    return next(t for t in tasks if t.stage is stage and t.month == month)


def _call(
    *,
    started: datetime,
    direction: Direction = Direction.INBOUND,
    outcome: CallOutcome = CallOutcome.ANSWERED,
    wait: float | None = None,
    answer_after: float | None = None,
    talk: float = 60.0,
    agent_id: int | None = None,
    ended: bool = True,
) -> Call:
    answered = None
    if outcome is CallOutcome.ANSWERED and ended:
        answered = started + timedelta(
            seconds=answer_after if answer_after is not None else (wait or 0.0)
        )
    end = (answered or started) + timedelta(seconds=talk if answered else wait or 5.0)
    return Call(
        linkedid=f"report.{next(_linked)}",
        direction=direction,
        queue="service" if direction is Direction.INBOUND else None,
        outcome=outcome if ended else None,
        started_at=started,
        answered_at=answered,
        ended_at=end if ended else None,
        wait_seconds=wait,
        talk_seconds=talk if answered else None,
        agent_id=agent_id,
    )


def _score(call: Call, failed: list[str], *, unjudged: tuple[str, ...] = ()) -> CallScore:
    rules = [
        {
            "id": rule,
            "passed": False if rule in failed else (None if rule in unjudged else True),
            "points_lost": points if rule in failed else 0,
        }
        for rule, points in RULE_POINTS.items()
    ]
    lost = sum(RULE_POINTS[r] for r in failed)
    return CallScore(
        call_id=call.id,
        agent_id=call.agent_id,
        score=9 - lost,
        max_score=9,
        points_lost=lost,
        rules=rules,
        rules_version="test",
        rules_digest="test",
        scored_at=call.started_at,
    )


async def build(database: Database) -> ReportFixture:
    fx = ReportFixture()
    async with database.session() as session:
        agent1 = await _user(session, "agent1", "王丽", Role.AGENT, "1001")
        agent2 = await _user(session, "agent2", "李娜", Role.AGENT, "1002")
        agent3 = await _user(session, "agent3", "张敏", Role.AGENT, "1003")
        await _user(session, "supervisor", "陈静", Role.SUPERVISOR)
        reviewer = await _user(session, "qa", "赵婷", Role.QA)
        fx.users = {"agent1": agent1.id, "agent2": agent2.id, "agent3": agent3.id}

        people = {"designer": "周设计", "project_manager": "杨经理", "foreman": "王工长"}
        _, p1 = await _project(
            session,
            "张伟",
            "13800000001",
            "XA-1",
            crew="第一施工队",
            **people,
            contract_date=date(2026, 11, 1),
            start_date=date(2026, 11, 10),
            concealed_works_date=date(2026, 12, 1),
        )
        _, p2 = await _project(
            session,
            "李强",
            "13800000002",
            "XA-2",
            crew="第二施工队",
            designer="吴设计",
            project_manager="孙经理",
            contract_date=date(2026, 10, 10),
            start_date=date(2026, 10, 20),
            concealed_works_date=date(2026, 11, 9),
            midterm_date=date(2026, 12, 10),
        )
        c3, p3 = await _project(
            session,
            "王芳",
            "13800000003",
            "XA-3",
            crew="第一施工队",
            **people,
            status=ProjectStatus.COMPLETED,
            contract_date=date(2026, 7, 20),
            start_date=date(2026, 8, 1),
            concealed_works_date=date(2026, 8, 15),
            midterm_date=date(2026, 9, 10),
            completion_date=date(2026, 10, 15),
        )
        _, p4 = await _project(
            session,
            "赵敏",
            "13800000004",
            "XA-4",
            crew="第二施工队",
            designer="吴设计",
            project_manager="孙经理",
            contract_date=date(2026, 10, 20),
            start_date=date(2026, 11, 1),
            concealed_works_date=date(2026, 11, 20),
        )
        # A customer who asked not to be called: overdue and non-compliant, listed last.
        dnc = await customers.create(
            session,
            name="钱多",
            phones=["13800000005"],
            do_not_call=True,
            do_not_call_reason="客户要求不再回访",
            default_area_code="029",
        )
        p5 = await projects.create(
            session,
            customer=dnc,
            contract_number="XA-5",
            rules=RULES,
            crew="第一施工队",
            contract_date=date(2026, 9, 20),
            start_date=date(2026, 10, 1),
        )
        fx.projects = {"p1": p1.id, "p2": p2.id, "p3": p3.id, "p4": p4.id, "p5": p5.id}

        async def log(
            name: str,
            task: CallbackTask,
            when: datetime,
            outcome: Outcome,
            agent: User | None,
            satisfaction: dict[str, Satisfaction] | None = None,
            notes: str = "",
        ) -> None:
            attempt = await callbacks.log_attempt(
                session,
                task=task,
                made_by=MadeBy.AGENT if agent else MadeBy.CAMPAIGN,
                outcome=outcome,
                at=when,
                agent_id=agent.id if agent else None,
                satisfaction=satisfaction,
                notes=notes,
            )
            fx.attempts[name] = attempt.id

        # History before the week: p2's start, p3's construction stages but its completion.
        await log(
            "p2_start",
            await _task(session, p2, Stage.START),
            at(10, 21, 10),
            Outcome.EFFECTIVE,
            agent2,
            ALL_SATISFIED,
        )
        for stage, day in (
            (Stage.START, at(8, 2, 10)),
            (Stage.CONCEALED_WORKS, at(8, 16, 10)),
            (Stage.MIDTERM, at(9, 11, 10)),
        ):
            await log(
                f"p3_{stage.value}",
                await _task(session, p3, stage),
                day,
                Outcome.EFFECTIVE,
                agent1,
                ALL_SATISFIED,
            )
        await log(
            "p3_completion",
            await _task(session, p3, Stage.COMPLETION),
            at(10, 16, 10),
            Outcome.NO_ANSWER,
            agent1,
        )

        # The week: Tuesday 10 to Monday 16 November.
        p1_start = await _task(session, p1, Stage.START)
        await log("a1", p1_start, at(11, 10, 10), Outcome.NO_ANSWER, agent1)
        await log(
            "a2", p1_start, at(11, 11, 15), Outcome.EFFECTIVE, agent1, ALL_SATISFIED, "开工顺利"
        )
        p2_concealed = await _task(session, p2, Stage.CONCEALED_WORKS)
        await log("a3", p2_concealed, at(11, 12, 9, 30), Outcome.BUSY, agent2)
        await log(
            "a4",
            p2_concealed,
            at(11, 12, 14),
            Outcome.EFFECTIVE,
            agent2,
            {"quality": U, "crew": N, "supervisor": S, "designer": S},
            "卫生间墙面开裂",
        )
        await log(
            "a5",
            p2_concealed,
            at(11, 15, 10, 5),
            Outcome.EFFECTIVE,
            agent2,
            ALL_SATISFIED,
            "墙面已修复，客户满意",
        )
        p3_month1 = await _task(session, p3, Stage.POST_COMPLETION, 1)
        await log("a6", p3_month1, at(11, 16, 19), Outcome.NO_ANSWER, None)
        await log(
            "a7",
            p3_month1,
            at(11, 16, 19, 30),
            Outcome.EFFECTIVE,
            agent1,
            {"quality": U},
            "厨房下水漏水",
        )
        # After the week (in the month): not in the weekly report.
        await log(
            "a8", await _task(session, p4, Stage.START), at(11, 17, 9), Outcome.WRONG_PERSON, agent1
        )
        await log(
            "a9", p3_month1, at(11, 18, 11), Outcome.EFFECTIVE, agent1, {"quality": S}, "漏水已修好"
        )

        # Complaints: C1 from the unsatisfied callback a4, C2 major, C3 general; C4 October.
        def complaint(received: datetime, **values: Any) -> Complaint:
            row = Complaint(
                customer_id=values.pop("customer_id"),
                source=values.pop("source", ComplaintSource.CALL),
                description="描述",
                received_at=received,
                clocks_from=received,
                **values,
            )
            session.add(row)
            return row

        c1 = complaint(
            at(11, 12, 14, 10),
            customer_id=p2.customer_id,
            project_id=p2.id,
            source=ComplaintSource.CALLBACK,
            attempt_id=fx.attempts["a4"],
            department="工程部",
            category="quality",
            grade=ComplaintGrade.GENERAL,
            status=ComplaintStatus.CLOSED,
            signed_at=at(11, 12, 16),
            verified_at=at(11, 13, 10),
            solution_at=at(11, 14, 9),
            resolved_at=at(11, 14, 18),
            callback_at=at(11, 15, 10),
            callback_satisfied=True,
        )
        c2 = complaint(
            at(11, 19, 10),
            customer_id=p4.customer_id,
            project_id=p4.id,
            department="设计部",
            category="designer",
            grade=ComplaintGrade.MAJOR,
            status=ComplaintStatus.OPEN,
            signed_at=at(11, 19, 12),
            verified_at=at(11, 20, 9),
        )
        c3_ = complaint(
            at(11, 20, 15),
            customer_id=c3.id,
            project_id=p3.id,
            department="材料部",
            category="quality",
            grade=ComplaintGrade.GENERAL,
            status=ComplaintStatus.RESOLVED,
            signed_at=at(11, 20, 17),
            verified_at=at(11, 21, 10),
            solution_at=at(11, 21, 12),
            resolved_at=at(11, 22, 11),
        )
        complaint(
            at(10, 30, 9),
            customer_id=c3.id,
            department="工程部",
            category="quality",
            grade=ComplaintGrade.GENERAL,
            status=ComplaintStatus.OPEN,
        )
        await session.flush()
        fx.complaints = {"c1": c1.id, "c2": c2.id, "c3": c3_.id}

        # Repairs.
        def repair(crew: str, reported: datetime, **values: Any) -> None:
            session.add(
                Repair(
                    customer_id=c3.id,
                    project_id=p3.id,
                    description="报修",
                    crew=crew,
                    reported_at=reported,
                    arrival_due_at=reported + timedelta(hours=8),
                    **values,
                )
            )

        repair(
            "第一施工队",
            at(11, 5, 9),
            status=RepairStatus.CLOSED,
            arrived_at=at(11, 5, 15),
            completed_at=at(11, 5, 18),
            after_call_at=at(11, 6, 10),
            satisfaction=S,
        )
        repair(
            "第一施工队",
            at(11, 10, 20),
            status=RepairStatus.CLOSED,
            arrived_at=at(11, 11, 9),
            completed_at=at(11, 11, 12),
            after_call_at=at(11, 12, 10),
            satisfaction=U,
        )
        repair("第二施工队", at(11, 22, 10))
        repair("第二施工队", at(11, 23, 8))
        repair("第一施工队", at(10, 31, 9), arrived_at=at(10, 31, 20))

        # Calls of Thursday 12 November, and around it.
        day_calls = [
            _call(started=at(11, 12, 9, 0), wait=5, talk=120, agent_id=agent1.id),
            _call(started=at(11, 12, 9, 10), wait=15, agent_id=agent2.id),
            _call(started=at(11, 12, 9, 20), wait=40, talk=30, agent_id=agent1.id),
            _call(started=at(11, 12, 10, 5), outcome=CallOutcome.ABANDONED, wait=25),
            _call(started=at(11, 12, 14, 0), answer_after=8, talk=200, agent_id=agent2.id),
            _call(started=at(11, 12, 14, 0), direction=Direction.OUTBOUND, agent_id=agent2.id),
            _call(
                started=at(11, 12, 9, 30), direction=Direction.OUTBOUND, outcome=CallOutcome.BUSY
            ),
            _call(started=at(11, 13, 0, 10), wait=3, agent_id=agent1.id),
            _call(started=at(11, 11, 23, 59), wait=3, agent_id=agent1.id),
            _call(started=at(11, 12, 16, 0), ended=False),  # still waiting in the queue
        ]
        session.add_all(day_calls)
        # QA: calls of earlier months, scored.
        qa_calls = {
            key: _call(started=when, wait=3, agent_id=agent.id)
            for key, when, agent in (
                ("a1_jun", at(6, 15, 10), agent1),
                ("a1_sep", at(9, 10, 10), agent1),
                ("a1_may", at(5, 20, 10), agent1),
                ("a2_jul", at(7, 1, 10), agent2),
                ("a2_aug", at(8, 1, 10), agent2),
                ("a2_oct", at(10, 1, 10), agent2),
            )
        }
        session.add_all(qa_calls.values())
        await session.flush()
        session.add_all(
            [
                _score(qa_calls["a1_jun"], ["forbidden_phrases", "greeting"]),
                _score(qa_calls["a1_sep"], ["forbidden_phrases"]),
                _score(qa_calls["a1_may"], list(RULE_POINTS)),
                _score(day_calls[0], ["closing", "greeting"], unjudged=("answer_within_3_rings",)),
                *(_score(qa_calls[k], list(RULE_POINTS)) for k in ("a2_jul", "a2_aug", "a2_oct")),
                _score(day_calls[1], list(RULE_POINTS)),
            ]
        )
        session.add_all(
            [
                # The September forbidden phrase was a misheard word: overridden, 3 points back.
                RuleReview(
                    call_id=qa_calls["a1_sep"].id,
                    rule_id="forbidden_phrases",
                    reviewer_id=reviewer.id,
                    decision=ReviewDecision.OVERRIDDEN,
                    passed=True,
                    reason="听错了",
                    at=at(9, 11, 10),
                ),
                RuleReview(
                    call_id=qa_calls["a2_jul"].id,
                    rule_id="greeting",
                    reviewer_id=reviewer.id,
                    decision=ReviewDecision.CONFIRMED,
                    passed=False,
                    reason=None,
                    at=at(7, 2, 10),
                ),
            ]
        )
    return fx
