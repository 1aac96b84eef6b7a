"""The monthly report as a document: satisfaction, complaints and their time limits, repairs
by crew, agents' QA points lost over half a year."""

from __future__ import annotations

from crm.complaints.time_limits import STEPS
from crm.reports.complaints import ComplaintTally
from crm.reports.monthly import MonthlyReport
from crm.reports.repairs import CrewTally
from web.report_exports.common import (
    COLORS,
    SATISFACTION_COLUMNS,
    area,
    area_chart,
    area_table,
    category,
    col,
    local,
    satisfaction_cells,
    stage,
    stage_table,
)
from web.report_exports.document import (
    Cell,
    Chart,
    Column,
    Document,
    Fact,
    Kind,
    Msg,
    Series,
    Table,
)


def _complaint_cells(row: ComplaintTally) -> list[Cell]:
    return [
        row.complaints,
        row.major,
        row.closed,
        *(row.steps[s].rate for s in STEPS),
        row.limits_met,
        row.limits_met_rate,
    ]


def _complaint_table(
    table_id: str,
    first: str,
    rows: list[ComplaintTally],
    total: ComplaintTally,
    *,
    by_category: bool,
) -> Table:
    columns = [
        col(first),
        col("complaints", Kind.COUNT),
        col("major", Kind.COUNT),
        col("closed", Kind.COUNT),
        *(Column(Msg(f"reports.step.{s.value}"), Kind.PERCENT) for s in STEPS),
        col("limits_met", Kind.COUNT),
        col("limits_met_rate", Kind.PERCENT),
    ]
    return Table(
        table_id,
        Msg(f"reports.t.{table_id}"),
        columns,
        [[category(r.name) if by_category else r.name, *_complaint_cells(r)] for r in rows],
        total=[Msg("reports.total"), *_complaint_cells(total)],
        note=Msg("reports.note.limits"),
    )


def _crew_cells(row: CrewTally) -> list[Cell]:
    return [
        row.repairs,
        row.arrived_on_time,
        row.arrived_late,
        row.not_arrived_overdue,
        row.on_time_rate,
        row.called_after,
        *satisfaction_cells(row.satisfaction),
    ]


def monthly_document(report: MonthlyReport) -> Document:
    tz = report.period.tz
    period = report.period
    flagged = [a for a in report.qa if a.flagged]
    facts = [
        Fact("attempts", Msg("reports.f.callbacks"), report.total.attempts),
        Fact(
            "effective_rate",
            Msg("reports.f.effective_rate"),
            report.total.effective_rate,
            Kind.PERCENT,
        ),
        Fact(
            "satisfaction_rate",
            Msg("reports.f.satisfaction_rate"),
            report.total.satisfaction.rate,
            Kind.PERCENT,
        ),
        Fact("complaints", Msg("reports.f.complaints"), report.complaints_total.complaints),
        Fact(
            "limits_met_rate",
            Msg("reports.f.limits_met_rate"),
            report.complaints_total.limits_met_rate,
            Kind.PERCENT,
        ),
        Fact("repairs", Msg("reports.f.repairs"), report.repairs_total.repairs),
        Fact(
            "on_time_rate",
            Msg("reports.f.on_time_rate"),
            report.repairs_total.on_time_rate,
            Kind.PERCENT,
        ),
        Fact("qa_flagged", Msg("reports.f.qa_flagged", {"n": report.qa_limit}), len(flagged)),
    ]
    people = [
        Table(
            f"people_{name}",
            Msg(f"reports.t.people_{name}"),
            [col(f"person_{name}"), *SATISFACTION_COLUMNS],
            [[p.name or Msg("reports.unnamed"), *satisfaction_cells(p.satisfaction)] for p in rows],
            note=Msg("reports.note.people", {"area": area(name)}),
        )
        for name, rows in report.people.items()
    ]
    complaint_list = Table(
        "complaint_list",
        Msg("reports.t.complaint_list"),
        [
            col("complaint_id", Kind.COUNT),
            col("received", Kind.DATETIME),
            col("customer"),
            col("category"),
            col("department"),
            col("grade"),
            *(Column(Msg(f"reports.step.{s.value}")) for s in STEPS),
            col("limits_met_flag"),
        ],
        [
            [
                c.id,
                local(c.received_at, tz),
                c.customer_name,
                category(c.category),
                c.department,
                Msg(f"reports.grade.{c.grade}"),
                *(Msg(f"reports.clock.{c.steps[s]}") for s in STEPS),
                Msg(f"reports.yes_no.{str(c.limits_met).lower()}"),
            ]
            for c in report.complaints
        ],
        flagged=[not c.limits_met for c in report.complaints],
    )
    crews = Table(
        "repairs",
        Msg("reports.t.repairs"),
        [
            col("crew"),
            col("repairs", Kind.COUNT),
            col("arrived_on_time", Kind.COUNT),
            col("arrived_late", Kind.COUNT),
            col("not_arrived", Kind.COUNT),
            col("on_time_rate", Kind.PERCENT),
            col("called_after", Kind.COUNT),
            *SATISFACTION_COLUMNS,
        ],
        [[r.crew, *_crew_cells(r)] for r in report.crews],
        total=[Msg("reports.total"), *_crew_cells(report.repairs_total)],
        note=Msg("reports.note.repairs"),
    )
    months = [m.strftime("%Y-%m") for m in report.qa_months]
    qa = Table(
        "qa",
        Msg("reports.t.qa", {"n": report.qa_limit}),
        [
            col("agent"),
            *(Column(Msg("reports.col.month", {"month": m}), Kind.COUNT) for m in months),
            col("points_total", Kind.COUNT),
            col("calls_scored", Kind.COUNT),
            col("qa_flag"),
        ],
        [
            [
                a.name,
                *a.by_month,
                a.total,
                a.calls_scored,
                Msg("reports.qa_flag", {"n": report.qa_limit}) if a.flagged else "",
            ]
            for a in report.qa
        ],
        flagged=[a.flagged for a in report.qa],
        note=Msg("reports.note.qa", {"n": report.qa_limit, "months": len(months)}),
    )
    stages = [r for r in report.stages if r.stage is not None]
    charts = [
        Chart(
            "stage_satisfaction",
            Msg("reports.c.stage_satisfaction"),
            "bar",
            [stage(r.stage) for r in stages if r.stage is not None],
            [
                Series(
                    Msg(f"sat.{s}"), [getattr(r.satisfaction, s) for r in stages], "sat", COLORS[s]
                )
                for s in ("satisfied", "neutral", "unsatisfied")
            ],
        ),
        area_chart(report.areas),
        Chart(
            "complaints",
            Msg("reports.c.complaints"),
            "bar",
            [r.name for r in report.by_department],
            [
                Series(
                    Msg("reports.s.limits_met"),
                    [r.limits_met for r in report.by_department],
                    "complaints",
                    COLORS["within"],
                ),
                Series(
                    Msg("reports.s.limits_missed"),
                    [r.complaints - r.limits_met for r in report.by_department],
                    "complaints",
                    COLORS["abandoned"],
                ),
            ],
        ),
        Chart(
            "qa",
            Msg("reports.c.qa", {"months": len(months)}),
            "bar",
            [a.name for a in report.qa],
            [Series(Msg("reports.s.points"), [a.total for a in report.qa], None, COLORS["points"])],
            threshold=report.qa_limit,
        ),
    ]
    return Document(
        kind="monthly",
        day=period.first,
        first=period.first,
        last=period.last,
        due=None,
        as_of=local(report.as_of, tz),
        title=Msg("reports.title.monthly"),
        period=Msg("reports.period.month", {"month": period.first.strftime("%Y-%m")}),
        facts=facts,
        charts=charts,
        tables=[
            stage_table(report.stages, report.total, title="reports.t.stages_month"),
            area_table(report.areas),
            *people,
            _complaint_table(
                "by_category",
                "category",
                report.by_category,
                report.complaints_total,
                by_category=True,
            ),
            _complaint_table(
                "by_department",
                "department",
                report.by_department,
                report.complaints_total,
                by_category=False,
            ),
            complaint_list,
            crews,
            qa,
        ],
        definitions=[
            Msg("reports.def.satisfaction"),
            Msg("reports.def.limits"),
            Msg("reports.def.clock_states"),
            Msg("reports.def.repairs"),
            Msg("reports.def.qa", {"n": report.qa_limit, "months": len(months)}),
        ],
    )
