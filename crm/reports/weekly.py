"""The weekly callback analysis (周回访情况分析表), for the week ending each Monday and due the
Tuesday after: callbacks by stage, outcome and satisfaction, the effective rate, callbacks
overdue and projects missing their stage callbacks, unsatisfied customers and what was done."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.reports.callbacks import (
    AgentTally,
    AreaTally,
    NonCompliantProject,
    OverdueCallback,
    StageTally,
    UnsatisfiedCase,
    by_agent,
    by_area,
    by_stage,
    load_attempts,
    non_compliant_projects,
    overdue_callbacks,
    unsatisfied_cases,
)
from crm.reports.periods import Period, week_period
from crm.reports.rules import ReportRules


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    period: Period
    as_of: datetime  # the overdue lists stand as at this instant (the week's end, or now)
    stages: list[StageTally]
    total: StageTally
    areas: list[AreaTally]
    agents: list[AgentTally]
    unsatisfied: list[UnsatisfiedCase]
    overdue: list[OverdueCallback]
    non_compliant: list[NonCompliantProject]


async def weekly_report(session: AsyncSession, day: date, rules: ReportRules) -> WeeklyReport:
    """The week ending on the Monday on or before `day`."""
    period = week_period(day, rules.tz)
    as_of = period.as_of(rules.now)
    today = as_of.astimezone(rules.tz).date()
    attempts = await load_attempts(session, period.start, period.end)
    stages, total = by_stage(attempts)
    return WeeklyReport(
        period=period,
        as_of=as_of,
        stages=stages,
        total=total,
        areas=by_area(attempts),
        agents=by_agent(attempts),
        unsatisfied=await unsatisfied_cases(session, attempts, as_of),
        overdue=await overdue_callbacks(session, as_of=as_of, today=today),
        non_compliant=await non_compliant_projects(session, as_of=as_of, today=today),
    )
