"""A customer's personal data on request (PIPL): everything held about them as one record
for export, and their erasure — the customer anonymised, their numbers, addresses, notes and
transcripts deleted, their calls' numbers and recordings cleared, the texts written about their
calls (dispositions' notes, QA feedback, rule reviews) and the words their QA scores quote
removed — with an audit entry that names only the customer's id and what was erased, so it
survives the erasure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import delete, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access.models import AccessGrant
from crm.audit.service import record
from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.calls.models import Call
from crm.complaints.models import Complaint, ComplaintEvent
from crm.customers.models import Customer
from crm.customers.service import get_or_raise
from crm.db import Base
from crm.dispositions.models import CallDisposition
from crm.errors import Conflict
from crm.one_of import one_of
from crm.projects.models import Project
from crm.quality.models import CallScore, QaFeedback, RuleReview
from crm.quality.scorecard import without_spoken_words
from crm.repairs.models import Repair
from crm.transcripts.models import Transcript

ERASED_NAME = "已删除客户 #{id}"
ERASED_TEXT = "（已删除）"  # required text columns keep a marker, not the words
CUSTOMER_ERASE = "customer.erase"
CUSTOMER_EXPORT = "customer.export"
RECORDING_COLUMNS = ("recording", "recording_agent", "recording_customer")


def _value(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def as_record(row: Base) -> dict[str, Any]:
    """Every column of a row, JSON-ready (times ISO 8601, enums their values)."""
    return {attr.key: _value(getattr(row, attr.key)) for attr in inspect(row).mapper.column_attrs}


def is_erased(customer: Customer) -> bool:
    return customer.name == ERASED_NAME.format(id=customer.id)


async def _calls(session: AsyncSession, customer: Customer) -> list[Call]:
    """Calls linked to the customer, or from or to one of their numbers."""
    numbers = [phone.number for phone in customer.phones]
    match = [Call.customer_id == customer.id]
    if numbers:
        match.append(one_of(Call.customer_number, numbers))
    return list(await session.scalars(select(Call).where(or_(*match)).order_by(Call.id)))


async def _dispositions(
    session: AsyncSession, customer: Customer, call_ids: list[int]
) -> list[CallDisposition]:
    """The dispositions of the customer's calls, or coded as about the customer."""
    return list(
        await session.scalars(
            select(CallDisposition)
            .where(
                or_(
                    one_of(CallDisposition.call_id, call_ids),
                    CallDisposition.customer_id == customer.id,
                )
            )
            .order_by(CallDisposition.id)
        )
    )


async def _of_calls(
    session: AsyncSession, model: type[QaFeedback | RuleReview], call_ids: list[int]
) -> list[Any]:
    """The QA feedback or rule reviews of these calls, oldest first."""
    return list(
        await session.scalars(
            select(model).where(one_of(model.call_id, call_ids)).order_by(model.id)
        )
    )


@dataclass(frozen=True, slots=True)
class CustomerData:
    """Everything held about one customer; `recordings`: (call id, column, stored path)."""

    record: dict[str, Any]
    recordings: list[tuple[int, str, str]]


async def customer_data(session: AsyncSession, *, customer_id: int) -> CustomerData:
    """Everything held about the customer, as the export's JSON; NotFound."""
    customer = await get_or_raise(session, customer_id)
    projects = list(
        await session.scalars(select(Project).where(Project.customer_id == customer.id))
    )
    project_ids = [p.id for p in projects]
    calls = await _calls(session, customer)
    call_ids = [c.id for c in calls]
    tasks = list(
        await session.scalars(
            select(CallbackTask)
            .where(one_of(CallbackTask.project_id, project_ids))
            .order_by(CallbackTask.id)
        )
    )
    attempts = list(
        await session.scalars(
            select(CallbackAttempt)
            .where(one_of(CallbackAttempt.task_id, [t.id for t in tasks]))
            .order_by(CallbackAttempt.id)
        )
    )
    complaints = list(
        await session.scalars(
            select(Complaint).where(Complaint.customer_id == customer.id).order_by(Complaint.id)
        )
    )
    events = list(
        await session.scalars(
            select(ComplaintEvent)
            .where(one_of(ComplaintEvent.complaint_id, [c.id for c in complaints]))
            .order_by(ComplaintEvent.id)
        )
    )
    repairs = list(
        await session.scalars(
            select(Repair).where(Repair.customer_id == customer.id).order_by(Repair.id)
        )
    )
    transcripts = list(
        await session.scalars(
            select(Transcript)
            .where(one_of(Transcript.call_id, call_ids))
            .order_by(Transcript.call_id, Transcript.id)
        )
    )
    scores = list(
        await session.scalars(
            select(CallScore).where(one_of(CallScore.call_id, call_ids)).order_by(CallScore.id)
        )
    )
    dispositions = await _dispositions(session, customer, call_ids)
    feedback = await _of_calls(session, QaFeedback, call_ids)
    reviews = await _of_calls(session, RuleReview, call_ids)
    result = {
        "customer": as_record(customer),
        "phones": [as_record(p) for p in customer.phones],
        "projects": [as_record(p) for p in projects],
        "calls": [as_record(c) for c in calls],
        "transcripts": [as_record(t) for t in transcripts],
        "call_scores": [as_record(s) for s in scores],
        "rule_reviews": [as_record(r) for r in reviews],
        "qa_feedback": [as_record(f) for f in feedback],
        "call_dispositions": [as_record(d) for d in dispositions],
        "callback_tasks": [as_record(t) for t in tasks],
        "callback_attempts": [as_record(a) for a in attempts],
        "complaints": [as_record(c) for c in complaints],
        "complaint_events": [as_record(e) for e in events],
        "repairs": [as_record(r) for r in repairs],
    }
    recordings = [
        (call.id, column, path)
        for call in calls
        for column in RECORDING_COLUMNS
        if (path := getattr(call, column))
    ]
    return CustomerData(record=result, recordings=recordings)


async def audit_export(
    session: AsyncSession, *, customer_id: int, actor: str, user_id: int | None, now: datetime
) -> None:
    """Who took a customer's data out, and when (PIPL: every access traceable)."""
    await record(
        session,
        actor=actor,
        user_id=user_id,
        action=CUSTOMER_EXPORT,
        entity_type="customer",
        entity_id=customer_id,
        at=now,
    )


async def recordings_to_erase(session: AsyncSession, *, customer_id: int) -> list[str]:
    """The stored paths of the customer's recordings; Conflict when already erased."""
    customer = await get_or_raise(session, customer_id)
    if is_erased(customer):
        raise Conflict(f"customer {customer_id} is already erased", code="customer_erased")
    data = await customer_data(session, customer_id=customer_id)
    return [path for _, _, path in data.recordings]


@dataclass(slots=True)
class Erasure:
    """What an erasure removed: counts only, never the data."""

    customer_id: int
    phones: int = 0
    calls: int = 0
    recordings: int = 0
    transcripts: int = 0
    call_scores: int = 0
    rule_reviews: int = 0
    qa_feedback: int = 0
    call_dispositions: int = 0
    projects: int = 0
    callback_attempts: int = 0
    complaints: int = 0
    repairs: int = 0
    access_grants: int = 0

    def as_detail(self) -> dict[str, int]:
        return {
            "phones": self.phones,
            "calls": self.calls,
            "recordings": self.recordings,
            "transcripts": self.transcripts,
            "call_scores": self.call_scores,
            "rule_reviews": self.rule_reviews,
            "qa_feedback": self.qa_feedback,
            "call_dispositions": self.call_dispositions,
            "projects": self.projects,
            "callback_attempts": self.callback_attempts,
            "complaints": self.complaints,
            "repairs": self.repairs,
            "access_grants": self.access_grants,
        }


def _erased(text: str | None) -> str | None:
    """A text written about the customer's call: the marker in its place (None stays)."""
    return ERASED_TEXT if text else text


async def _erase_call_texts(
    session: AsyncSession, customer: Customer, call_ids: list[int], done: Erasure
) -> None:
    """What the centre wrote about the customer's calls, and the words their QA scores quote:
    the rows, codes, statuses, verdicts and points stay (QA history and the reports count
    them); the texts become the marker."""
    scores = list(
        await session.scalars(select(CallScore).where(one_of(CallScore.call_id, call_ids)))
    )
    for score in scores:
        score.rules = without_spoken_words(score.rules)
    done.call_scores = len(scores)
    reviews: list[RuleReview] = await _of_calls(session, RuleReview, call_ids)
    for review in reviews:
        review.reason = _erased(review.reason)
    done.rule_reviews = len(reviews)
    feedback: list[QaFeedback] = await _of_calls(session, QaFeedback, call_ids)
    for item in feedback:
        item.comment = ERASED_TEXT
        item.dispute = _erased(item.dispute)
        item.answer = _erased(item.answer)
        item.acknowledgement = _erased(item.acknowledgement)
    done.qa_feedback = len(feedback)
    dispositions = await _dispositions(session, customer, call_ids)
    for disposition in dispositions:
        disposition.note = _erased(disposition.note) or ""
    done.call_dispositions = len(dispositions)


async def erase_customer(
    session: AsyncSession,
    *,
    customer_id: int,
    actor: str,
    user_id: int | None,
    now: datetime,
    files_removed: int = 0,
) -> Erasure:
    """Anonymise the customer and everything naming them (the recording files are removed by
    the caller first); Conflict when already erased, NotFound when there is no such customer.
    The rows stay (the reports' counts, the complaints' history) without the personal data."""
    customer = await get_or_raise(session, customer_id)
    if is_erased(customer):
        raise Conflict(f"customer {customer_id} is already erased", code="customer_erased")
    done = Erasure(customer_id=customer.id, recordings=files_removed)
    calls = await _calls(session, customer)
    call_ids = [c.id for c in calls]
    for call in calls:
        call.caller = call.dialed = call.customer_number = None
        for column in RECORDING_COLUMNS:
            setattr(call, column, None)
    done.calls = len(calls)
    result = await session.execute(delete(Transcript).where(one_of(Transcript.call_id, call_ids)))
    done.transcripts = int(getattr(result, "rowcount", 0) or 0)
    await _erase_call_texts(session, customer, call_ids, done)
    projects = list(
        await session.scalars(select(Project).where(Project.customer_id == customer.id))
    )
    for project in projects:
        project.address = ""
    done.projects = len(projects)
    attempts = list(
        await session.scalars(
            select(CallbackAttempt)
            .join(CallbackTask, CallbackTask.id == CallbackAttempt.task_id)
            .where(one_of(CallbackTask.project_id, [p.id for p in projects]))
        )
    )
    for attempt in attempts:
        attempt.notes, attempt.dialed_number = "", None
    done.callback_attempts = len(attempts)
    complaints = list(
        await session.scalars(select(Complaint).where(Complaint.customer_id == customer.id))
    )
    for complaint in complaints:
        complaint.description, complaint.customer_demand = ERASED_TEXT, ""
        if complaint.solution:
            complaint.solution = ERASED_TEXT
    done.complaints = len(complaints)
    repairs = list(await session.scalars(select(Repair).where(Repair.customer_id == customer.id)))
    for repair in repairs:
        repair.description, repair.notes = ERASED_TEXT, ""
    done.repairs = len(repairs)
    grants = list(
        await session.scalars(select(AccessGrant).where(AccessGrant.customer_id == customer.id))
    )
    for grant in grants:
        grant.reason, grant.decision_note = ERASED_TEXT, ""
    done.access_grants = len(grants)
    done.phones = len(customer.phones)
    customer.phones.clear()  # the screen pop no longer knows the numbers
    customer.name = ERASED_NAME.format(id=customer.id)
    customer.address = customer.notes = ""
    customer.do_not_call, customer.do_not_call_reason = True, None  # never dialed again
    await session.flush()
    await record(
        session,
        actor=actor,
        user_id=user_id,
        action=CUSTOMER_ERASE,
        entity_type="customer",
        entity_id=customer.id,
        detail=done.as_detail(),
        at=now,
    )
    return done
