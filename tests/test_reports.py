"""Report figures against a hand-built call centre (tests/support/report_fixture.py) whose
every figure was counted by hand: the weekly callback analysis, the daily figures and the
monthly report, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm.callbacks.models import Outcome, Stage
from crm.complaints.models import ComplaintStatus
from crm.complaints.time_limits import Step, TimeLimitState
from crm.db import Database
from crm.projects.models import ProjectStatus
from crm.reports.calls import service_level
from crm.reports.complaints import ComplaintTally
from crm.reports.daily import daily_report
from crm.reports.monthly import monthly_report
from crm.reports.periods import (
    ReportKind,
    latest_complete,
    month_period,
    months_back,
    week_period,
)
from crm.reports.rules import ReportRules
from crm.reports.tallies import SatisfactionCount
from crm.reports.weekly import weekly_report
from crm.work_calendar import load_calendar
from tests.support.report_fixture import (
    DAILY_DAY,
    MONTH_DAY,
    NOW,
    RULE_POINTS,
    TZ,
    WEEK_DAY,
    ReportFixture,
    at,
    build,
)

RULES = ReportRules(tz=TZ, now=NOW, rule_points=RULE_POINTS, calendar=load_calendar())


@pytest.fixture
async def fx(db: Database) -> ReportFixture:
    return await build(db)


def test_the_report_week_ends_on_a_monday_and_is_due_on_tuesday() -> None:
    for day in (date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 22)):
        week = week_period(day, TZ)
        assert (week.first, week.last, week.due) == (
            date(2026, 11, 10),
            date(2026, 11, 16),
            date(2026, 11, 17),
        )
    assert week_period(date(2026, 11, 23), TZ).first == date(2026, 11, 17)
    week = week_period(date(2026, 11, 16), TZ)
    assert week.start == datetime(2026, 11, 10, tzinfo=TZ)
    assert week.end == datetime(2026, 11, 17, tzinfo=TZ)
    assert week.as_of(NOW) == week.end
    assert week_period(NOW.date(), TZ).as_of(NOW) == NOW  # this week is still running
    month = month_period(date(2026, 12, 31), TZ)
    assert (month.first, month.last) == (date(2026, 12, 1), date(2026, 12, 31))
    assert months_back(date(2026, 2, 10), 6) == [
        date(2025, 9, 1),
        date(2025, 10, 1),
        date(2025, 11, 1),
        date(2025, 12, 1),
        date(2026, 1, 1),
        date(2026, 2, 1),
    ]
    # A page opens on the last period already over.
    assert week_period(latest_complete(ReportKind.WEEKLY, date(2026, 11, 17)), TZ).last == date(
        2026, 11, 16
    )
    assert week_period(latest_complete(ReportKind.WEEKLY, date(2026, 11, 23)), TZ).last == date(
        2026, 11, 16
    )
    assert latest_complete(ReportKind.MONTHLY, date(2026, 11, 23)) == date(2026, 10, 31)


async def test_weekly_callback_analysis(db: Database, fx: ReportFixture) -> None:
    async with db.session() as session:
        report = await weekly_report(session, WEEK_DAY, RULES)
    assert report.as_of == datetime(2026, 11, 17, tzinfo=TZ)

    # Seven attempts in the week (a1…a7), four of them effective.
    stages = {row.stage: row for row in report.stages}
    assert list(stages) == list(Stage)
    assert report.total.attempts == 7
    assert report.total.effective == 4
    assert report.total.effective_rate == pytest.approx(4 / 7)
    assert report.total.satisfaction == SatisfactionCount(2, 0, 2)
    start, concealed, post = (
        stages[Stage.START],
        stages[Stage.CONCEALED_WORKS],
        stages[Stage.POST_COMPLETION],
    )
    assert (start.attempts, start.effective, start.outcomes[Outcome.NO_ANSWER]) == (2, 1, 1)
    assert start.satisfaction == SatisfactionCount(1, 0, 0)
    assert (concealed.attempts, concealed.effective, concealed.outcomes[Outcome.BUSY]) == (3, 2, 1)
    assert concealed.effective_rate == pytest.approx(2 / 3)
    assert concealed.satisfaction == SatisfactionCount(1, 0, 1)
    assert (post.attempts, post.effective, post.outcomes[Outcome.NO_ANSWER]) == (2, 1, 1)
    assert post.satisfaction == SatisfactionCount(0, 0, 1)
    for stage in (Stage.MIDTERM, Stage.COMPLETION, Stage.COMPLAINT):
        assert stages[stage].attempts == 0
        assert stages[stage].effective_rate is None  # nothing to divide: "—", not 0 %

    areas = {row.area: row.satisfaction for row in report.areas}
    assert areas == {
        "quality": SatisfactionCount(2, 0, 2),
        "crew": SatisfactionCount(2, 1, 0),
        "supervisor": SatisfactionCount(3, 0, 0),
        "designer": SatisfactionCount(3, 0, 0),
    }

    agents = [(a.name, a.attempts, a.effective, a.unsatisfied) for a in report.agents]
    assert agents == [("李娜", 3, 2, 1), ("王丽", 3, 2, 1), (None, 1, 0, 0)]

    # Unsatisfied customers and what was done.
    assert [
        (c.attempt.id, c.attempt.customer_name, c.attempt.unsatisfied_areas)
        for c in report.unsatisfied
    ] == [(fx.attempts["a4"], "李强", ["quality"]), (fx.attempts["a7"], "王芳", ["quality"])]
    wall, leak = report.unsatisfied
    assert [(c.id, c.department, c.status) for c in wall.complaints] == [
        (fx.complaints["c1"], "工程部", ComplaintStatus.CLOSED)
    ]
    assert [(f.started_at, f.outcome, f.notes) for f in wall.follow_ups] == [
        (at(11, 15, 10, 5), Outcome.EFFECTIVE, "墙面已修复，客户满意")
    ]
    assert wall.settled
    # The follow-up of the 18th came after the report's instant: not yet done then.
    assert leak.complaints == [] and leak.follow_ups == [] and not leak.settled

    # As it stood on Tuesday the 17th at 00:00.
    # The customer who asked not to be called comes last.
    assert [
        (
            o.contract_number,
            o.stage,
            o.latest_date,
            o.days_late,
            o.attempts,
            o.last_outcome,
            o.do_not_call,
        )
        for o in report.overdue
    ] == [
        ("XA-3", Stage.COMPLETION, date(2026, 10, 18), 30, 1, Outcome.NO_ANSWER, False),
        ("XA-4", Stage.START, date(2026, 11, 4), 13, 0, None, False),
        ("XA-5", Stage.START, date(2026, 10, 4), 44, 0, None, True),
    ]
    assert [
        (p.contract_number, p.customer_name, p.status, p.missing, p.do_not_call)
        for p in report.non_compliant
    ] == [
        ("XA-3", "王芳", ProjectStatus.COMPLETED, [Stage.COMPLETION], False),
        ("XA-4", "赵敏", ProjectStatus.IN_PROGRESS, [Stage.START], False),
        ("XA-5", "钱多", ProjectStatus.IN_PROGRESS, [Stage.START], True),
    ]


async def test_an_earlier_week_is_shown_as_it_stood_then(db: Database, fx: ReportFixture) -> None:
    """On 10 November (week ending Monday the 9th) p2's concealed-works callback (latest the
    12th) was not yet late, p1's start not yet due; effective calls made later do not count."""
    async with db.session() as session:
        report = await weekly_report(session, date(2026, 11, 9), RULES)
    assert report.total.attempts == 0
    assert [(o.contract_number, o.stage, o.days_late) for o in report.overdue] == [
        ("XA-3", Stage.COMPLETION, 23),
        ("XA-4", Stage.START, 6),
        ("XA-5", Stage.START, 37),
    ]


async def test_daily_figures(db: Database, fx: ReportFixture) -> None:
    async with db.session() as session:
        report = await daily_report(session, DAILY_DAY, RULES)
    queues = report.calls.queues
    # Five queue calls that day: four answered (after 5, 15, 40 and 8 seconds), one abandoned
    # after 25 s; the call still waiting and the calls either side of midnight are not in.
    assert (queues.offered, queues.answered, queues.abandoned) == (5, 4, 1)
    assert queues.answered_within_threshold == 3  # 15 s exactly is within
    # The wallboard's service level: within ÷ (offered − abandoned within 15 s) = 3 ÷ 5.
    assert service_level(queues) == pytest.approx(0.6)
    assert queues.abandon_rate == 20.0
    assert queues.average_speed_of_answer == pytest.approx((5 + 15 + 40 + 8) / 4)
    assert (report.calls.outbound, report.calls.outbound_answered) == (2, 1)
    hours = {
        h: (t.offered, t.answered, t.answered_within_threshold)
        for h, t in enumerate(report.calls.by_hour)
        if t.offered
    }
    assert hours == {9: (3, 3, 2), 10: (1, 0, 0), 14: (1, 1, 1)}
    assert (report.callbacks_total.attempts, report.callbacks_total.effective) == (2, 1)
    assert [(a.id, a.outcome) for a in report.register] == [
        (fx.attempts["a3"], Outcome.BUSY),
        (fx.attempts["a4"], Outcome.EFFECTIVE),
    ]


async def test_monthly_report(db: Database, fx: ReportFixture) -> None:
    async with db.session() as session:
        report = await monthly_report(session, MONTH_DAY, RULES)
    assert report.as_of == NOW  # November is still running

    # Satisfaction: a1…a9 in November, five effective.
    assert (report.total.attempts, report.total.effective) == (9, 5)
    assert report.total.satisfaction == SatisfactionCount(3, 0, 2)
    areas = {row.area: row.satisfaction for row in report.areas}
    assert areas["quality"] == SatisfactionCount(3, 0, 2)
    assert areas["crew"] == SatisfactionCount(2, 1, 0)
    people = {
        area: [(p.name, p.satisfaction.as_tuple()) for p in rows]
        for area, rows in report.people.items()
    }
    assert people == {
        "crew": [("第二施工队", (1, 1, 0)), ("第一施工队", (1, 0, 0))],
        "supervisor": [("孙经理", (2, 0, 0)), ("杨经理", (1, 0, 0))],
        "designer": [("吴设计", (2, 0, 0)), ("周设计", (1, 0, 0))],
    }

    # Complaints received in November: C1 (two steps late), C2 (major: its solution overdue;
    # on site within 2 working days = Monday 10:00, not yet overdue at 10:00), C3 (all in time).
    steps = {c.id: c.steps for c in report.complaints}
    assert list(steps) == [fx.complaints["c1"], fx.complaints["c2"], fx.complaints["c3"]]
    assert steps[fx.complaints["c1"]] == {
        Step.SIGNED: TimeLimitState.DONE,
        Step.VERIFIED: TimeLimitState.DONE,
        Step.SOLUTION: TimeLimitState.DONE_LATE,
        Step.RESOLVED: TimeLimitState.DONE_LATE,
        Step.CALLBACK: TimeLimitState.DONE,
    }
    assert steps[fx.complaints["c2"]][Step.SOLUTION] is TimeLimitState.OVERDUE
    assert steps[fx.complaints["c2"]][Step.RESOLVED] is TimeLimitState.DUE_SOON
    assert steps[fx.complaints["c2"]][Step.CALLBACK] is TimeLimitState.WAITING
    assert steps[fx.complaints["c3"]][Step.CALLBACK] is TimeLimitState.DUE_SOON  # 11:00 today
    assert [c.limits_met for c in report.complaints] == [False, False, True]

    def tally(row: ComplaintTally) -> tuple[object, ...]:
        return (
            row.name,
            row.complaints,
            row.major,
            row.closed,
            row.limits_met,
            {s.value: (c.met, c.due) for s, c in row.steps.items()},
        )

    assert [tally(r) for r in report.by_category] == [
        (
            "quality",
            2,
            0,
            1,
            1,
            {
                "signed": (2, 2),
                "verified": (2, 2),
                "solution": (1, 2),
                "resolved": (1, 2),
                "callback": (1, 1),
            },
        ),
        (
            "designer",
            1,
            1,
            0,
            0,
            {
                "signed": (1, 1),
                "verified": (1, 1),
                "solution": (0, 1),
                "resolved": (0, 0),
                "callback": (0, 0),
            },
        ),
    ]
    assert [r.name for r in report.by_department] == ["工程部", "材料部", "设计部"]
    total = report.complaints_total
    assert tally(total)[1:] == (
        3,
        1,
        1,
        1,
        {
            "signed": (3, 3),
            "verified": (3, 3),
            "solution": (1, 3),
            "resolved": (1, 2),
            "callback": (1, 1),
        },
    )
    assert total.limits_met_rate == pytest.approx(1 / 3)

    # Repairs by crew, as at Monday 10:00.
    crews = [
        (
            c.crew,
            c.repairs,
            c.arrived_on_time,
            c.arrived_late,
            c.not_arrived_overdue,
            c.called_after,
            c.satisfaction.as_tuple(),
        )
        for c in report.crews
    ]
    assert crews == [
        ("第一施工队", 2, 1, 1, 0, 2, (1, 0, 1)),
        ("第二施工队", 2, 0, 0, 1, 0, (0, 0, 0)),
    ]
    assert report.crews[0].on_time_rate == pytest.approx(0.5)
    assert report.crews[1].on_time_rate == 0.0
    assert report.repairs_total.on_time_rate == pytest.approx(1 / 3)

    # QA points lost, June to November, after reviews; 30 or more is flagged.
    assert report.qa_months == [date(2026, m, 1) for m in range(6, 12)]
    qa = [(a.name, a.by_month, a.total, a.flagged, a.calls_scored) for a in report.qa]
    assert qa == [
        ("李娜", [0, 8, 8, 0, 8, 8], 32, True, 4),
        ("王丽", [5, 0, 0, 0, 0, 4], 9, False, 3),
        ("张敏", [0, 0, 0, 0, 0, 0], 0, False, 0),
    ]
