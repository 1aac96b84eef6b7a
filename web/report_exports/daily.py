"""The daily figures as a document: calls, the 3-ring rate, callbacks, the callback register."""

from __future__ import annotations

from crm.calls.stats import QueueStats
from crm.reports.calls import service_level
from crm.reports.daily import DailyReport
from web.report_exports.common import (
    COLORS,
    agent,
    agent_table,
    answers,
    col,
    local,
    outcome,
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
    Names,
    Series,
    Table,
)

HOURS = range(8, 22)  # the hours always shown; calls outside them widen the range


def _hour_cells(stats: QueueStats) -> list[Cell]:
    return [
        stats.offered,
        stats.answered,
        stats.abandoned,
        stats.no_agent,
        stats.answered_within_threshold,
        service_level(stats),
        stats.average_speed_of_answer,
    ]


def _disposition_table(report: DailyReport) -> Table:
    """Answered calls by why the customer called, and how many nobody coded."""
    codes = report.disposition_codes
    coded = [d for d in report.dispositions if d.code is not None]
    uncoded = sum(d.calls for d in report.dispositions if d.code is None)
    rows: list[list[Cell]] = [
        [Names(codes.names_of(d.code)) if d.code in codes else d.code, d.calls]
        for d in coded
        if d.code is not None
    ]
    if uncoded:
        rows.append([Msg("reports.disposition_none"), uncoded])
    return Table(
        "dispositions",
        Msg("reports.t.dispositions"),
        [col("disposition"), col("calls", Kind.COUNT)],
        rows,
        total=[Msg("reports.total"), sum(d.calls for d in report.dispositions)],
        flagged=[False] * len(coded) + [True] * bool(uncoded),
    )


def daily_document(report: DailyReport) -> Document:
    tz = report.period.tz
    calls = report.calls
    queues = calls.queues
    limit = {"n": int(report.answer_within_seconds)}
    facts = [
        Fact("offered", Msg("reports.f.offered"), queues.offered),
        Fact("answered", Msg("reports.f.answered"), queues.answered),
        Fact("abandoned", Msg("reports.f.abandoned"), queues.abandoned),
        Fact("no_agent", Msg("reports.f.no_agent"), queues.no_agent),
        Fact(
            "within_rate", Msg("reports.f.within_rate", limit), service_level(queues), Kind.PERCENT
        ),
        Fact("asa", Msg("reports.f.asa"), queues.average_speed_of_answer, Kind.SECONDS),
        Fact("outbound", Msg("reports.f.outbound"), calls.outbound),
        Fact("callbacks", Msg("reports.f.callbacks"), report.callbacks_total.attempts),
        Fact("effective", Msg("reports.f.effective"), report.callbacks_total.effective),
        Fact(
            "coded",
            Msg("reports.f.coded"),
            sum(d.calls for d in report.dispositions if d.code is not None),
        ),
    ]
    busy = [h for h, t in enumerate(calls.by_hour) if t.offered]
    hours = range(min([*busy, HOURS.start]), max([*busy, HOURS.stop - 1]) + 1)
    by_hour = [calls.by_hour[h] for h in hours]
    chart = Chart(
        "calls_by_hour",
        Msg("reports.c.calls_by_hour"),
        "bar",
        [t.queue for t in by_hour],
        [
            Series(
                Msg("reports.s.within", limit),
                [t.answered_within_threshold for t in by_hour],
                "calls",
                COLORS["within"],
            ),
            Series(
                Msg("reports.s.answered_later"),
                [t.answered - t.answered_within_threshold for t in by_hour],
                "calls",
                COLORS["later"],
            ),
            Series(
                Msg("reports.s.abandoned"),
                [t.abandoned for t in by_hour],
                "calls",
                COLORS["abandoned"],
            ),
            Series(
                Msg("reports.s.no_agent"),
                [t.no_agent for t in by_hour],
                "calls",
                COLORS["no_agent"],
            ),
        ],
    )
    hour_table = Table(
        "calls_by_hour",
        Msg("reports.t.calls_by_hour"),
        [
            col("hour"),
            col("offered", Kind.COUNT),
            col("answered", Kind.COUNT),
            col("abandoned", Kind.COUNT),
            col("no_agent", Kind.COUNT),
            Column(Msg("reports.col.within", limit), Kind.COUNT),
            col("within_rate", Kind.PERCENT),
            col("asa", Kind.SECONDS),
        ],
        [[t.queue, *_hour_cells(t)] for t in by_hour if t.offered],
        total=[Msg("reports.total"), *_hour_cells(queues)],
        note=Msg("reports.note.within", limit),
    )
    register = Table(
        "register",
        Msg("reports.t.register"),
        [
            col("time", Kind.DATETIME),
            col("customer"),
            col("contract"),
            col("stage"),
            col("agent"),
            col("outcome"),
            col("satisfaction", wide=True),
            col("notes", wide=True),
        ],
        [
            [
                local(a.started_at, tz),
                a.customer_name,
                a.contract_number,
                stage(a.stage, a.month),
                agent(a.agent_name),
                outcome(a.outcome),
                answers(a.satisfaction),
                a.notes,
            ]
            for a in report.register
        ],
    )
    return Document(
        kind="daily",
        day=report.period.first,
        first=report.period.first,
        last=report.period.last,
        due=None,
        as_of=local(report.as_of, tz),
        title=Msg("reports.title.daily"),
        period=Msg("reports.period.day", {"day": report.period.first.isoformat()}),
        facts=facts,
        charts=[chart],
        tables=[
            hour_table,
            _disposition_table(report),
            stage_table(report.callbacks, report.callbacks_total),
            agent_table(report.agents),
            register,
        ],
        definitions=[
            Msg("reports.def.within", limit),
            Msg("reports.def.asa"),
            Msg("reports.def.effective"),
        ],
    )
