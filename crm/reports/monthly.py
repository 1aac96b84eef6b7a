"""The monthly report: customer satisfaction by stage and by area (quality, crew, supervisor,
designer, and whom each rates), complaints by cause and department with their time limits,
repairs by crew, and agents' QA points lost over half a year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.reports.callbacks import (
    AREA_PEOPLE,
    AreaTally,
    PersonTally,
    StageTally,
    by_area,
    by_person,
    by_stage,
    load_attempts,
)
from crm.reports.complaints import ComplaintFact, ComplaintTally, load_complaints, tally_by
from crm.reports.periods import Period, month_period, months_back
from crm.reports.quality import AgentPoints, points_lost
from crm.reports.repairs import CrewTally, repairs_by_crew
from crm.reports.rules import ReportRules


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    period: Period
    as_of: datetime
    stages: list[StageTally]
    total: StageTally
    areas: list[AreaTally]
    people: dict[str, list[PersonTally]]  # area → whom it rates
    complaints: list[ComplaintFact]
    by_category: list[ComplaintTally]
    by_department: list[ComplaintTally]
    complaints_total: ComplaintTally
    crews: list[CrewTally]
    repairs_total: CrewTally
    qa_months: list[date]  # first days, oldest first
    qa: list[AgentPoints]
    qa_limit: int


async def monthly_report(session: AsyncSession, day: date, rules: ReportRules) -> MonthlyReport:
    """The calendar month holding `day`."""
    period = month_period(day, rules.tz)
    as_of = period.as_of(rules.now)
    attempts = await load_attempts(session, period.start, period.end)
    stages, total = by_stage(attempts)
    complaints = await load_complaints(
        session,
        period.start,
        period.end,
        as_of=as_of,
        limits=rules.complaint_limits,
        calendar=rules.calendar,
        tz=rules.tz,
    )
    by_category, complaints_total = tally_by(complaints, "category")
    by_department, _ = tally_by(complaints, "department")
    crews, repairs_total = await repairs_by_crew(session, period.start, period.end, as_of=as_of)
    months = months_back(period.first, rules.qa_window_months)
    qa = await points_lost(
        session,
        months=months,
        end=period.end,
        tz=rules.tz,
        rule_points=rules.rule_points,
        limit=rules.qa_points_limit,
    )
    return MonthlyReport(
        period=period,
        as_of=as_of,
        stages=stages,
        total=total,
        areas=by_area(attempts),
        people={area: by_person(attempts, area) for area in AREA_PEOPLE},
        complaints=complaints,
        by_category=by_category,
        by_department=by_department,
        complaints_total=complaints_total,
        crews=crews,
        repairs_total=repairs_total,
        qa_months=months,
        qa=qa,
        qa_limit=rules.qa_points_limit,
    )
