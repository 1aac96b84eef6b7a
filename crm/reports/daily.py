"""The daily figures: inbound calls answered and abandoned, the 3-ring rate, outbound calls,
why the answered calls were made (their dispositions), and the callback register (回访信息登记)
of the day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.dispositions import service as dispositions
from crm.dispositions.codes import DispositionCodes
from crm.dispositions.service import DispositionCount
from crm.reports.callbacks import (
    AgentTally,
    AttemptFact,
    StageTally,
    by_agent,
    by_stage,
    load_attempts,
)
from crm.reports.calls import CallFigures, load_calls, tally_calls
from crm.reports.periods import Period, day_period
from crm.reports.rules import ReportRules


@dataclass(frozen=True, slots=True)
class DailyReport:
    period: Period
    as_of: datetime
    answer_within_seconds: float
    calls: CallFigures
    callbacks: list[StageTally]
    callbacks_total: StageTally
    agents: list[AgentTally]
    register: list[AttemptFact]  # every callback attempt of the day, in order
    dispositions: list[DispositionCount]  # answered calls by why the customer called
    disposition_codes: DispositionCodes  # what the codes are called


async def daily_report(session: AsyncSession, day: date, rules: ReportRules) -> DailyReport:
    period = day_period(day, rules.tz)
    calls = await load_calls(session, period.start, period.end)
    attempts = await load_attempts(session, period.start, period.end)
    stages, total = by_stage(attempts)
    return DailyReport(
        period=period,
        as_of=period.as_of(rules.now),
        answer_within_seconds=rules.answer_within_seconds,
        calls=tally_calls(calls, limit_seconds=rules.answer_within_seconds, tz=rules.tz),
        callbacks=stages,
        callbacks_total=total,
        agents=by_agent(attempts),
        register=attempts,
        dispositions=await dispositions.counts(session, start=period.start, end=period.end),
        disposition_codes=rules.disposition_codes,
    )
