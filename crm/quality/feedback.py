"""Feedback between a QA reviewer and an agent on one call: the reviewer's comment reaches
the agent, who acknowledges it or disputes it (once, with a reason); a dispute goes back to the
reviewers, whose answer the agent then acknowledges. Sending it completes the call's entry in
the review queue. Who may act is the caller's business (web/qa_feedback.py); what may happen
next is decided here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm.calls.models import Call
from crm.errors import Conflict, NotFound, ValidationError
from crm.quality.models import CallScore, FeedbackStatus, QaFeedback
from crm.quality.review_queue import mark_reviewed
from crm.query_filters import equal_where_given
from crm.users.models import User


def _text(value: str | None, *, field: str, code: str, message: str) -> str:
    cleaned = (value or "").strip()
    if not cleaned:
        raise ValidationError(message, code=code, field=field)
    return cleaned


@dataclass(frozen=True, slots=True)
class FeedbackView:
    """A feedback with the names and the call a list shows beside it."""

    feedback: QaFeedback
    call: Call
    agent_name: str | None
    reviewer_name: str | None
    answered_by_name: str | None
    score: CallScore | None


async def send(
    session: AsyncSession, *, call_id: int, reviewer_id: int, comment: str, at: datetime
) -> QaFeedback:
    """The reviewer's comment to the call's agent; one per call."""
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}", field="call_id")
    if call.agent_id is None:
        raise ValidationError(
            "this call has no agent to send feedback to", code="call_has_no_agent"
        )
    text = _text(comment, field="comment", code="comment_required", message="write the comment")
    if await session.scalar(select(QaFeedback.id).where(QaFeedback.call_id == call_id)):
        raise Conflict("this call has feedback already", code="feedback_exists")
    feedback = QaFeedback(
        call_id=call_id,
        agent_id=call.agent_id,
        reviewer_id=reviewer_id,
        comment=text,
        sent_at=at,
        status=FeedbackStatus.SENT,
    )
    session.add(feedback)
    await session.flush()
    await mark_reviewed(session, call_id=call_id, reviewer_id=reviewer_id, at=at)
    return feedback


async def get(session: AsyncSession, *, feedback_id: int) -> QaFeedback:
    feedback = await session.get(QaFeedback, feedback_id)
    if feedback is None:
        raise NotFound(f"no feedback {feedback_id}", code="no_feedback")
    return feedback


async def for_call(session: AsyncSession, *, call_id: int) -> QaFeedback | None:
    return await session.scalar(select(QaFeedback).where(QaFeedback.call_id == call_id))


def _closed(feedback: QaFeedback) -> None:
    if feedback.status is FeedbackStatus.ACKNOWLEDGED:
        raise Conflict(
            "the agent has acknowledged this feedback: it is closed", code="feedback_closed"
        )


async def acknowledge(
    session: AsyncSession, *, feedback_id: int, note: str | None, at: datetime
) -> QaFeedback:
    """The agent accepts the comment (or the answer to their dispute)."""
    feedback = await get(session, feedback_id=feedback_id)
    _closed(feedback)
    if feedback.status is FeedbackStatus.DISPUTED:
        raise Conflict("the dispute waits for the reviewer's answer", code="dispute_open")
    feedback.status = FeedbackStatus.ACKNOWLEDGED
    feedback.acknowledgement = (note or "").strip() or None
    feedback.acknowledged_at = at
    await session.flush()
    return feedback


async def dispute(
    session: AsyncSession, *, feedback_id: int, reason: str, at: datetime
) -> QaFeedback:
    """The agent disagrees, saying why; the reviewers answer."""
    feedback = await get(session, feedback_id=feedback_id)
    _closed(feedback)
    if feedback.status is not FeedbackStatus.SENT:
        raise Conflict("a review is disputed once", code="already_disputed")
    feedback.dispute = _text(
        reason, field="reason", code="dispute_reason_required", message="say what you disagree with"
    )
    feedback.status = FeedbackStatus.DISPUTED
    feedback.disputed_at = at
    await session.flush()
    return feedback


async def answer(
    session: AsyncSession, *, feedback_id: int, reviewer_id: int, text: str, at: datetime
) -> QaFeedback:
    """A reviewer answers the agent's dispute (any score changes are rule reviews)."""
    feedback = await get(session, feedback_id=feedback_id)
    if feedback.status is not FeedbackStatus.DISPUTED:
        raise Conflict("only a disputed feedback is answered", code="not_disputed")
    feedback.answer = _text(
        text, field="answer", code="answer_required", message="write the answer"
    )
    feedback.answered_by = reviewer_id
    feedback.answered_at = at
    feedback.status = FeedbackStatus.ANSWERED
    await session.flush()
    return feedback


async def list_feedback(
    session: AsyncSession,
    *,
    agent_id: int | None = None,
    reviewer_id: int | None = None,
    status: FeedbackStatus | None = None,
    feedback_id: int | None = None,
    limit: int,
    offset: int = 0,
) -> list[FeedbackView]:
    """Feedback, newest first: of one agent, from one reviewer, in one state."""
    agent, reviewer, answerer = aliased(User), aliased(User), aliased(User)
    query = (
        select(
            QaFeedback,
            Call,
            agent.display_name.label("agent_name"),
            reviewer.display_name.label("reviewer_name"),
            answerer.display_name.label("answered_by_name"),
            CallScore,
        )
        .join(Call, Call.id == QaFeedback.call_id)
        .join(agent, agent.id == QaFeedback.agent_id)
        .join(reviewer, reviewer.id == QaFeedback.reviewer_id)
        .outerjoin(answerer, answerer.id == QaFeedback.answered_by)
        .outerjoin(CallScore, CallScore.call_id == QaFeedback.call_id)
        .order_by(QaFeedback.sent_at.desc(), QaFeedback.id.desc())
    )
    query = equal_where_given(
        query,
        (QaFeedback.agent_id, agent_id),
        (QaFeedback.reviewer_id, reviewer_id),
        (QaFeedback.status, status),
        (QaFeedback.id, feedback_id),
    )
    rows = (await session.execute(query.limit(limit).offset(offset))).all()
    return [
        FeedbackView(
            feedback=row.QaFeedback,
            call=row.Call,
            agent_name=row.agent_name,
            reviewer_name=row.reviewer_name,
            answered_by_name=row.answered_by_name,
            score=row.CallScore,
        )
        for row in rows
    ]


async def view(session: AsyncSession, *, feedback_id: int) -> FeedbackView:
    found = await list_feedback(session, feedback_id=feedback_id, limit=1)
    if not found:
        raise NotFound(f"no feedback {feedback_id}", code="no_feedback")
    return found[0]
