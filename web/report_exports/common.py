"""Pieces the three reports' documents share: labels for the business's words, and the tables
of callbacks by stage, by area and by agent."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from crm.callbacks.models import Outcome, Satisfaction, Stage
from crm.complaints.rules import CATEGORIES
from crm.reports.callbacks import OUTCOMES as OUTCOMES_SHOWN
from crm.reports.callbacks import AgentTally, AreaTally, StageTally
from crm.reports.tallies import SatisfactionCount
from web.report_exports.document import Cell, Chart, Column, Kind, Msg, Series, Table

COLORS = {
    "effective": "#2e7d32",
    "satisfied": "#2e7d32",
    "neutral": "#f9a825",
    "unsatisfied": "#c62828",
    "no_answer": "#90a4ae",
    "busy": "#ffb74d",
    "congestion": "#a1887f",
    "failed": "#8d6e63",
    "wrong_person": "#7e57c2",
    "refused": "#e57373",
    "call_later": "#4fc3f7",
    "within": "#2e7d32",
    "later": "#f9a825",
    "abandoned": "#c62828",
    "no_agent": "#7c3aed",
    "rate": "#1565c0",
    "points": "#6a1b9a",
}


def col(key: str, kind: Kind = Kind.TEXT, *, wide: bool = False) -> Column:
    return Column(Msg(f"reports.col.{key}"), kind, wide)


def stage(value: Stage, month: int = 0) -> Msg:
    if value is Stage.POST_COMPLETION and month:
        return Msg("reports.stage_month", {"n": month})
    return Msg(f"reports.stage.{value.value}")


def outcome(value: Outcome | None) -> Msg | None:
    return Msg(f"outcome.{value.value}") if value is not None else None


def satisfaction(value: Satisfaction | None) -> Msg | None:
    return Msg(f"sat.{value.value}") if value is not None else None


def area(name: str) -> Msg:
    return Msg(f"area.{name}")


def agent(name: str | None) -> Msg | str:
    return name if name is not None else Msg("reports.campaign")


def category(code: str) -> Msg | str:
    return Msg(f"reports.category.{code}") if code in CATEGORIES else code


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz).replace(tzinfo=None)


def satisfaction_cells(count: SatisfactionCount) -> list[Cell]:
    return [count.satisfied, count.neutral, count.unsatisfied, count.rate]


SATISFACTION_COLUMNS = [
    col("satisfied", Kind.COUNT),
    col("neutral", Kind.COUNT),
    col("unsatisfied", Kind.COUNT),
    col("satisfaction_rate", Kind.PERCENT),
]


def _stage_cells(row: StageTally) -> list[Cell]:
    return [
        row.attempts,
        *(row.outcomes[o] for o in OUTCOMES_SHOWN),
        row.effective_rate,
        *satisfaction_cells(row.satisfaction),
    ]


def stage_table(
    rows: list[StageTally],
    total: StageTally,
    *,
    table_id: str = "stages",
    title: str = "reports.t.stages",
) -> Table:
    """Callbacks by stage: attempts, each outcome, the effective rate and the satisfaction of
    the customers reached."""
    columns = [
        col("stage"),
        col("attempts", Kind.COUNT),
        *(Column(Msg(f"outcome.{o.value}"), Kind.COUNT) for o in OUTCOMES_SHOWN),
        col("effective_rate", Kind.PERCENT),
        *SATISFACTION_COLUMNS,
    ]
    return Table(
        table_id,
        Msg(title),
        columns,
        [[stage(r.stage), *_stage_cells(r)] for r in rows if r.stage is not None],
        total=[Msg("reports.total"), *_stage_cells(total)],
        note=Msg("reports.note.effective_rate"),
    )


def stage_chart(rows: list[StageTally]) -> Chart:
    shown = [r for r in rows if r.stage is not None]
    return Chart(
        "outcomes",
        Msg("reports.c.outcomes"),
        "bar",
        [stage(r.stage) for r in shown if r.stage is not None],
        [
            Series(
                Msg(f"outcome.{o.value}"),
                [r.outcomes[o] for r in shown],
                "outcome",
                COLORS[o.value],
            )
            for o in OUTCOMES_SHOWN
        ],
    )


def area_table(rows: list[AreaTally]) -> Table:
    return Table(
        "areas",
        Msg("reports.t.areas"),
        [col("area"), *SATISFACTION_COLUMNS],
        [[area(r.area), *satisfaction_cells(r.satisfaction)] for r in rows],
        note=Msg("reports.note.areas"),
    )


def area_chart(rows: list[AreaTally]) -> Chart:
    return Chart(
        "areas",
        Msg("reports.c.areas"),
        "bar",
        [area(r.area) for r in rows],
        [
            Series(
                Msg(f"sat.{s.value}"),
                [getattr(r.satisfaction, s.value) for r in rows],
                "sat",
                COLORS[s.value],
            )
            for s in Satisfaction
        ],
        horizontal=True,
    )


def agent_table(rows: list[AgentTally]) -> Table:
    columns = [
        col("agent"),
        col("attempts", Kind.COUNT),
        col("effective", Kind.COUNT),
        col("effective_rate", Kind.PERCENT),
        col("unsatisfied", Kind.COUNT),
    ]
    return Table(
        "agents",
        Msg("reports.t.agents"),
        columns,
        [[agent(r.name), r.attempts, r.effective, r.effective_rate, r.unsatisfied] for r in rows],
    )


def answers(values: dict[str, Satisfaction | None]) -> list[str | Msg]:
    """ "施工质量：不满意、施工队：一般" — the areas the customer answered."""
    return [
        Msg("sat.pair", {"area": area(a), "value": satisfaction(s)})
        for a, s in values.items()
        if s is not None
    ]
