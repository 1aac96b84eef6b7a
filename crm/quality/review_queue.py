"""The review queue: the sampling rules run over a week's calls (crm/quality/sampling.py) and
what they pick is stored once per call; reviewers list the queue and take calls from it.

Running the rules twice adds nothing; two processes running them at once add each call
once (the insert skips a call already queued)."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call
from crm.complaints.models import Complaint
from crm.customers.models import Customer
from crm.db import insert_for
from crm.errors import Conflict, NotFound
from crm.one_of import one_of
from crm.quality.models import AssignmentStatus, CallScore, QaAssignment
from crm.quality.sampling import (
    CallToSample,
    Pick,
    SampleReason,
    SamplingRules,
    pick_calls,
    previous_week,
    week_bounds,
    week_of,
)
from crm.query_filters import equal_where_given
from crm.settings import Settings
from crm.users.models import User


@dataclass(frozen=True, slots=True)
class SamplingRun:
    weeks: tuple[str, ...]
    added: tuple[Pick, ...]

    def counts(self) -> dict[SampleReason, int]:
        found = Counter(pick.reason for pick in self.added)
        return {reason: found.get(reason, 0) for reason in SampleReason}


async def calls_to_sample(session: AsyncSession, *, week: str, tz: ZoneInfo) -> list[CallToSample]:
    """The week's answered calls that ended and have an agent, with their automatic scores
    and whether a complaint names them (raised on the call, or opened by the callback made
    on it)."""
    start, end = week_bounds(week, tz)
    rows = (
        await session.execute(
            select(Call.id, Call.agent_id, Call.started_at, CallScore.score, CallScore.max_score)
            .outerjoin(CallScore, CallScore.call_id == Call.id)
            .where(
                Call.started_at >= start,
                Call.started_at < end,
                Call.answered_at.is_not(None),
                Call.ended_at.is_not(None),
                Call.agent_id.is_not(None),
            )
            .order_by(Call.id)
        )
    ).all()
    ids = [row.id for row in rows]
    complained: set[int] = set()
    if ids:
        raised = select(Complaint.call_id).where(one_of(Complaint.call_id, ids))
        opened_by_callback = (
            select(CallbackAttempt.call_id)
            .join(Complaint, Complaint.attempt_id == CallbackAttempt.id)
            .where(one_of(CallbackAttempt.call_id, ids))
        )
        complained = {
            call_id
            for call_id in (await session.scalars(raised.union(opened_by_callback))).all()
            if call_id is not None
        }
    return [
        CallToSample(
            call_id=row.id,
            agent_id=row.agent_id,
            week=week_of(row.started_at, tz),
            score=row.score,
            max_score=row.max_score,
            complaint=row.id in complained,
        )
        for row in rows
    ]


async def queued_reasons(session: AsyncSession, *, weeks: Sequence[str]) -> dict[int, SampleReason]:
    rows = await session.execute(
        select(QaAssignment.call_id, QaAssignment.reason).where(one_of(QaAssignment.week, weeks))
    )
    return {row.call_id: row.reason for row in rows}


async def sample(
    session: AsyncSession,
    *,
    weeks: Sequence[str],
    rules: SamplingRules,
    key: bytes,
    tz: ZoneInfo,
    now: datetime,
) -> SamplingRun:
    """Run the sampling rules over the weeks' calls and queue what they pick."""
    calls = [call for week in weeks for call in await calls_to_sample(session, week=week, tz=tz)]
    picks = pick_calls(
        calls,
        rules=rules,
        queued=await queued_reasons(session, weeks=weeks),
        key=key,
        current_week=week_of(now, tz),
    )
    added = []
    insert = insert_for(session)
    for pick in picks:
        result = await session.execute(
            insert(QaAssignment)
            .values(
                call_id=pick.call_id,
                agent_id=pick.agent_id,
                week=pick.week,
                reason=pick.reason,
                assigned_at=now,
                status=AssignmentStatus.PENDING,
            )
            .on_conflict_do_nothing(index_elements=["call_id"])
        )
        if getattr(result, "rowcount", 0):
            added.append(pick)
    return SamplingRun(tuple(weeks), tuple(added))


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A call in the review queue, with what a reviewer chooses by."""

    assignment: QaAssignment
    call: Call
    agent_name: str | None
    reviewer_name: str | None
    customer_name: str | None
    score: CallScore | None


async def list_queue(
    session: AsyncSession,
    *,
    status: AssignmentStatus | None = AssignmentStatus.PENDING,
    week: str | None = None,
    reason: SampleReason | None = None,
    agent_id: int | None = None,
    reviewer_id: int | None = None,
    assignment_id: int | None = None,
    limit: int,
    offset: int = 0,
) -> list[QueuedCall]:
    """The queue, complaint calls first, then low scores, then the share; oldest call first
    within each. `reviewer_id`: the calls nobody took and those this reviewer took."""
    agent, reviewer = aliased(User), aliased(User)
    order = {SampleReason.COMPLAINT: 0, SampleReason.LOW_SCORE: 1, SampleReason.SHARE: 2}
    query = (
        select(
            QaAssignment,
            Call,
            agent.display_name.label("agent_name"),
            reviewer.display_name.label("reviewer_name"),
            Customer.name.label("customer_name"),
            CallScore,
        )
        .join(Call, Call.id == QaAssignment.call_id)
        .join(agent, agent.id == QaAssignment.agent_id)
        .outerjoin(reviewer, reviewer.id == QaAssignment.reviewer_id)
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .outerjoin(CallScore, CallScore.call_id == Call.id)
    )
    query = equal_where_given(
        query,
        (QaAssignment.status, status),
        (QaAssignment.week, week),
        (QaAssignment.reason, reason),
        (QaAssignment.agent_id, agent_id),
    )
    if reviewer_id is not None:
        query = query.where(
            or_(QaAssignment.reviewer_id == reviewer_id, QaAssignment.reviewer_id.is_(None))
        )
    if assignment_id is not None:
        query = query.where(QaAssignment.id == assignment_id)
    rank = case(order, value=QaAssignment.reason)
    rows = (
        await session.execute(
            query.order_by(rank, Call.started_at, QaAssignment.id).limit(limit).offset(offset)
        )
    ).all()
    return [
        QueuedCall(
            assignment=row.QaAssignment,
            call=row.Call,
            agent_name=row.agent_name,
            reviewer_name=row.reviewer_name,
            customer_name=row.customer_name,
            score=row.CallScore,
        )
        for row in rows
    ]


async def get_queued(session: AsyncSession, *, assignment_id: int) -> QueuedCall:
    found = await list_queue(session, status=None, assignment_id=assignment_id, limit=1)
    if not found:
        raise NotFound(f"no review-queue entry {assignment_id}", code="not_queued")
    return found[0]


async def assignment_for_call(session: AsyncSession, *, call_id: int) -> QaAssignment | None:
    return await session.scalar(select(QaAssignment).where(QaAssignment.call_id == call_id))


async def take(session: AsyncSession, *, assignment_id: int, reviewer_id: int) -> QaAssignment:
    """A reviewer takes a queued call, so that two do not review it at once; taking it again
    is fine, taking another reviewer's is refused."""
    assignment = await session.get(QaAssignment, assignment_id)
    if assignment is None:
        raise NotFound(f"no review-queue entry {assignment_id}", code="not_queued")
    if assignment.status is AssignmentStatus.REVIEWED:
        raise Conflict("this call has been reviewed already", code="already_reviewed")
    claimed = await session.execute(
        update(QaAssignment)
        .where(
            QaAssignment.id == assignment_id,
            or_(QaAssignment.reviewer_id.is_(None), QaAssignment.reviewer_id == reviewer_id),
        )
        .values(reviewer_id=reviewer_id)
    )
    if not getattr(claimed, "rowcount", 0):
        raise Conflict("another reviewer has taken this call", code="taken_by_another")
    await session.refresh(assignment)
    return assignment


async def mark_reviewed(
    session: AsyncSession, *, call_id: int, reviewer_id: int, at: datetime
) -> QaAssignment | None:
    """The call's queue entry, if it has one, is done: its reviewer sent their feedback."""
    assignment = await assignment_for_call(session, call_id=call_id)
    if assignment is not None and assignment.status is AssignmentStatus.PENDING:
        assignment.status = AssignmentStatus.REVIEWED
        assignment.reviewer_id = reviewer_id
        assignment.reviewed_at = at
        await session.flush()
    return assignment


def rules_of(settings: Settings) -> SamplingRules:
    """The sampling rules the settings give (CALLCENTRE_QA_SAMPLE_*)."""
    return SamplingRules(
        share=settings.qa_sample_share,
        below_percent=settings.qa_sample_below_percent,
        complaint_calls=settings.qa_sample_complaint_calls,
    )


def key_of(settings: Settings) -> bytes:
    """The key of the weekly draw: from the server's secret, so nobody without it can tell
    which calls will be drawn, and the same on every server of the centre."""
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"qa-sampling", hashlib.sha256).digest()


def weeks_to_sample(now: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """Last week (calls scored or complained about late) and this one."""
    this_week = week_of(now, tz)
    return previous_week(this_week), this_week
