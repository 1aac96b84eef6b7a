"""The weekly callback analysis (周回访情况分析表) as a document."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from crm.callbacks.models import Outcome
from crm.reports.callbacks import UnsatisfiedCase
from crm.reports.weekly import WeeklyReport
from web.report_exports.common import (
    agent,
    agent_table,
    area,
    area_chart,
    area_table,
    col,
    local,
    outcome,
    satisfaction,
    stage,
    stage_chart,
    stage_table,
)
from web.report_exports.document import Document, Fact, Kind, Msg, Table


def _done(case: UnsatisfiedCase, tz: ZoneInfo) -> list[str | Msg]:
    """What was done for an unsatisfied customer: complaints opened, calls made since."""
    done: list[str | Msg] = [
        Msg(
            "reports.action.complaint",
            {
                "id": c.id,
                "department": c.department,
                "status": Msg(f"reports.complaint_status.{c.status}"),
            },
        )
        for c in case.complaints
    ]
    for follow_up in case.follow_ups:
        when = local(follow_up.started_at, tz).strftime("%m-%d %H:%M")
        if follow_up.outcome is Outcome.EFFECTIVE:
            done.append(
                Msg(
                    "reports.action.follow_up",
                    {"time": when, "verdict": satisfaction(follow_up.verdict)},
                )
            )
        else:
            done.append(
                Msg(
                    "reports.action.follow_up_try",
                    {"time": when, "outcome": outcome(follow_up.outcome)},
                )
            )
    return done or [Msg("reports.action.none")]


def _dnc(do_not_call: bool) -> Msg | None:
    return Msg("reports.do_not_call") if do_not_call else None


def weekly_document(report: WeeklyReport) -> Document:
    tz = report.period.tz
    total = report.total
    facts = [
        Fact("attempts", Msg("reports.f.callbacks"), total.attempts),
        Fact("effective", Msg("reports.f.effective"), total.effective),
        Fact("effective_rate", Msg("reports.f.effective_rate"), total.effective_rate, Kind.PERCENT),
        Fact(
            "satisfaction_rate",
            Msg("reports.f.satisfaction_rate"),
            total.satisfaction.rate,
            Kind.PERCENT,
        ),
        Fact("unsatisfied", Msg("reports.f.unsatisfied"), len(report.unsatisfied)),
        Fact("overdue", Msg("reports.f.overdue"), sum(not o.do_not_call for o in report.overdue)),
        Fact(
            "non_compliant",
            Msg("reports.f.non_compliant"),
            sum(not p.do_not_call for p in report.non_compliant),
        ),
    ]
    unsatisfied = Table(
        "unsatisfied",
        Msg("reports.t.unsatisfied"),
        [
            col("time", Kind.DATETIME),
            col("customer"),
            col("contract"),
            col("stage"),
            col("agent"),
            col("unsatisfied_areas"),
            col("notes", wide=True),
            col("done", wide=True),
            col("settled"),
        ],
        [
            [
                local(c.attempt.started_at, tz),
                c.attempt.customer_name,
                c.attempt.contract_number,
                stage(c.attempt.stage, c.attempt.month),
                agent(c.attempt.agent_name),
                [area(a) for a in c.attempt.unsatisfied_areas],
                c.attempt.notes,
                _done(c, tz),
                Msg(f"reports.settled.{str(c.settled).lower()}"),
            ]
            for c in report.unsatisfied
        ],
        flagged=[not c.settled for c in report.unsatisfied],
        note=Msg("reports.note.unsatisfied"),
    )
    overdue = Table(
        "overdue",
        Msg("reports.t.overdue"),
        [
            col("contract"),
            col("customer"),
            col("stage"),
            col("due", Kind.DATE),
            col("latest", Kind.DATE),
            col("days_late", Kind.COUNT),
            col("tries", Kind.COUNT),
            col("last_outcome"),
            col("do_not_call"),
        ],
        [
            [
                o.contract_number,
                o.customer_name,
                stage(o.stage, o.month),
                o.due_date,
                o.latest_date,
                o.days_late,
                o.attempts,
                outcome(o.last_outcome),
                _dnc(o.do_not_call),
            ]
            for o in report.overdue
        ],
        note=Msg("reports.note.overdue"),
    )
    non_compliant = Table(
        "non_compliant",
        Msg("reports.t.non_compliant"),
        [
            col("contract"),
            col("customer"),
            col("project_status"),
            col("missing_stages"),
            col("do_not_call"),
        ],
        [
            [
                p.contract_number,
                p.customer_name,
                Msg(f"reports.project_status.{p.status}"),
                [stage(s) for s in p.missing],
                _dnc(p.do_not_call),
            ]
            for p in report.non_compliant
        ],
        note=Msg("reports.note.non_compliant"),
    )
    period = report.period
    return Document(
        kind="weekly",
        day=period.last,
        first=period.first,
        last=period.last,
        due=period.due,
        as_of=local(report.as_of, tz),
        title=Msg("reports.title.weekly"),
        period=Msg(
            "reports.period.week",
            {
                "first": period.first.isoformat(),
                "last": period.last.isoformat(),
                "due": period.due.isoformat(),
            },
        ),
        facts=facts,
        charts=[stage_chart(report.stages), area_chart(report.areas)],
        tables=[
            stage_table(report.stages, total),
            area_table(report.areas),
            agent_table(report.agents),
            unsatisfied,
            overdue,
            non_compliant,
        ],
        definitions=[
            Msg("reports.def.week"),
            Msg("reports.def.effective"),
            Msg("reports.def.effective_rate"),
            Msg("reports.def.satisfaction"),
            Msg("reports.def.overdue"),
        ],
    )
