"""Complaints of a period by cause (category) and by department, with how each time limit was
kept: every step's completion time against its deadline (crm.complaints.time_limits)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.complaints.models import Complaint, ComplaintGrade, ComplaintStatus
from crm.complaints.time_limits import STEPS, Limits, Step, TimeLimitState, time_limits
from crm.customers.models import Customer
from crm.reports.tallies import rate
from crm.work_calendar import WorkCalendar

MET = TimeLimitState.DONE
MISSED = (TimeLimitState.DONE_LATE, TimeLimitState.OVERDUE)


@dataclass(frozen=True, slots=True)
class ComplaintFact:
    id: int
    received_at: datetime
    customer_name: str
    category: str
    department: str
    grade: ComplaintGrade
    closed: bool  # the customer said they were satisfied, by the report's instant
    steps: dict[Step, TimeLimitState]  # each time limit as it stood at the report's instant

    @property
    def limits_met(self) -> bool:
        """No step was done late or left overdue."""
        return not any(state in MISSED for state in self.steps.values())


def step_states(
    complaint: Complaint, *, as_of: datetime, limits: Limits, calendar: WorkCalendar, tz: ZoneInfo
) -> dict[Step, TimeLimitState]:
    """Each step's time limit at `as_of`, counting only what had been done by then; the clocks run
    from receipt, or from the complaint's return to the department."""
    done = {
        Step.SIGNED: complaint.signed_at,
        Step.VERIFIED: complaint.verified_at,
        Step.SOLUTION: complaint.solution_at,
        Step.RESOLVED: complaint.resolved_at,
        Step.CALLBACK: complaint.callback_at,
    }
    known = {step: at if at is not None and at < as_of else None for step, at in done.items()}
    return {
        limit.step: limit.state
        for limit in time_limits(
            complaint.clocks_from,
            known,
            major=complaint.grade is ComplaintGrade.MAJOR,
            now=as_of,
            limits=limits,
            calendar=calendar,
            tz=tz,
        )
    }


async def load_complaints(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    as_of: datetime,
    limits: Limits,
    calendar: WorkCalendar,
    tz: ZoneInfo,
) -> list[ComplaintFact]:
    """Complaints received in [start, end), with their clocks as they stood at `as_of`."""
    rows = await session.execute(
        select(Complaint, Customer.name)
        .join(Customer, Customer.id == Complaint.customer_id)
        .where(Complaint.received_at >= start, Complaint.received_at < end)
        .order_by(Complaint.received_at, Complaint.id)
    )
    facts = []
    for complaint, customer in rows:
        closed = complaint.status is ComplaintStatus.CLOSED and (
            complaint.callback_at is None or complaint.callback_at < as_of
        )
        facts.append(
            ComplaintFact(
                id=complaint.id,
                received_at=complaint.received_at,
                customer_name=customer,
                category=complaint.category,
                department=complaint.department,
                grade=complaint.grade,
                closed=closed,
                steps=step_states(complaint, as_of=as_of, limits=limits, calendar=calendar, tz=tz),
            )
        )
    return facts


@dataclass(slots=True)
class StepCompliance:
    met: int = 0  # done within the limit
    due: int = 0  # done (in time or late), or overdue: the limit has come

    @property
    def rate(self) -> float | None:
        return rate(self.met, self.due)


@dataclass(slots=True)
class ComplaintTally:
    name: str  # the category or the department
    complaints: int = 0
    major: int = 0
    closed: int = 0
    limits_met: int = 0
    steps: dict[Step, StepCompliance] = field(
        default_factory=lambda: {step: StepCompliance() for step in STEPS}
    )

    @property
    def limits_met_rate(self) -> float | None:
        return rate(self.limits_met, self.complaints)

    def add(self, fact: ComplaintFact) -> None:
        self.complaints += 1
        self.major += fact.grade is ComplaintGrade.MAJOR
        self.closed += fact.closed
        self.limits_met += fact.limits_met
        for step, state in fact.steps.items():
            if state is MET or state in MISSED:
                self.steps[step].due += 1
                self.steps[step].met += state is MET


def tally_by(
    facts: Iterable[ComplaintFact], attribute: str
) -> tuple[list[ComplaintTally], ComplaintTally]:
    """Rows by `category` or `department`, most complaints first, and the total."""
    rows: dict[str, ComplaintTally] = {}
    total = ComplaintTally("")
    for fact in facts:
        name = getattr(fact, attribute)
        rows.setdefault(name, ComplaintTally(name)).add(fact)
        total.add(fact)
    return sorted(rows.values(), key=lambda r: (-r.complaints, r.name)), total
