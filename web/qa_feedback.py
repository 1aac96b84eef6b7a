"""QA feedback between reviewers and agents (issue 17): a reviewer sends the agent a comment
on one of their calls; the agent sees it beside the scorecard and acknowledges or disputes it;
a dispute goes back to the reviewer, whose answer comes back to the agent. Each step is
audited on the call and pushed over the websocket of the person it concerns (a
`QaFeedbackMessage`, web/ws_messages.py). An agent sees and acts on the feedback of their
own calls only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.calls.models import Direction
from crm.quality import feedback as feedbacks
from crm.quality import reviews
from crm.quality.feedback import FeedbackView
from crm.quality.models import FeedbackStatus
from crm.quality.rules import RulesError, load_rules
from crm.users.models import Role
from web.auth import Caller, require
from web.params import IdPath, IdQuery, Offset
from web.recordings import REFUSALS, readable_call
from web.services import Services, services
from web.ws_messages import QaFeedbackMessage

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from crm.quality.models import QaFeedback

router = APIRouter(prefix="/api/qa", tags=["qa"])
viewers = require(Role.QA, Role.SUPERVISOR, Role.AGENT)
reviewers = require(Role.QA, Role.SUPERVISOR)
agents = require(Role.AGENT)
MAX_TEXT = 4000


class FeedbackOut(BaseModel):
    id: int
    call_id: int
    call_started_at: datetime
    call_direction: Direction
    agent_id: int
    agent_name: str | None
    reviewer_id: int
    reviewer_name: str | None
    comment: str
    sent_at: datetime
    status: FeedbackStatus
    dispute: str | None
    disputed_at: datetime | None
    answer: str | None
    answered_by_name: str | None
    answered_at: datetime | None
    acknowledgement: str | None
    acknowledged_at: datetime | None
    score: int | None = Field(description="the call's score after review; None: not scored")
    max_score: int | None


class FeedbackIn(BaseModel):
    comment: str = Field(max_length=MAX_TEXT)


class AcknowledgeIn(BaseModel):
    note: str | None = Field(None, max_length=MAX_TEXT)


class DisputeIn(BaseModel):
    reason: str = Field(max_length=MAX_TEXT)


class AnswerIn(BaseModel):
    answer: str = Field(max_length=MAX_TEXT)


def _points(svc: Services) -> dict[str, int]:
    try:
        card = load_rules(svc.settings.qa_rules_path)
    except RulesError:
        return {}
    return {rule.id: rule.points for rule in card.rules}


async def _out(session: AsyncSession, found: FeedbackView, points: dict[str, int]) -> FeedbackOut:
    item, call = found.feedback, found.call
    score = max_score = None
    if found.score is not None:
        latest = await reviews.latest_reviews(session, call.id)
        reviewed = reviews.reviewed_score(found.score, latest, points)
        score, max_score = reviewed.score, reviewed.max
    return FeedbackOut(
        id=item.id,
        call_id=call.id,
        call_started_at=call.started_at,
        call_direction=call.direction,
        agent_id=item.agent_id,
        agent_name=found.agent_name,
        reviewer_id=item.reviewer_id,
        reviewer_name=found.reviewer_name,
        comment=item.comment,
        sent_at=item.sent_at,
        status=item.status,
        dispute=item.dispute,
        disputed_at=item.disputed_at,
        answer=item.answer,
        answered_by_name=found.answered_by_name,
        answered_at=item.answered_at,
        acknowledgement=item.acknowledgement,
        acknowledged_at=item.acknowledged_at,
        score=score,
        max_score=max_score,
    )


def _not_theirs() -> HTTPException:
    code = "not_your_call"
    return HTTPException(403, [{"field": None, "code": code, "message": REFUSALS[code]}])


@router.get("/feedback", response_model=list[FeedbackOut])
async def list_feedback(
    status: FeedbackStatus | None = Query(None),
    agent_id: IdQuery = None,
    limit: int = Query(50, ge=1, le=200),
    offset: Offset = 0,
    caller: Caller = Depends(viewers),
    svc: Services = Depends(services),
) -> list[FeedbackOut]:
    """Feedback, newest first; an agent gets the feedback on their own calls (`agent_id` is
    theirs whatever they ask), reviewers anyone's, e.g. every open dispute."""
    if caller.role is Role.AGENT:
        agent_id = caller.id
    points = _points(svc)
    async with svc.database.session() as session:
        found = await feedbacks.list_feedback(
            session, agent_id=agent_id, status=status, limit=limit, offset=offset
        )
        return [await _out(session, item, points) for item in found]


@router.get("/calls/{call_id}/feedback", response_model=FeedbackOut | None)
async def call_feedback(
    call_id: IdPath, caller: Caller = Depends(viewers), svc: Services = Depends(services)
) -> FeedbackOut | None:
    """The call's feedback, or null when none was sent; an agent's own calls only."""
    await readable_call(svc, caller, call_id)
    async with svc.database.session() as session:
        found = await feedbacks.for_call(session, call_id=call_id)
        if found is None:
            return None
        return await _out(
            session, await feedbacks.view(session, feedback_id=found.id), _points(svc)
        )


@router.post("/calls/{call_id}/feedback", response_model=FeedbackOut, status_code=201)
async def send_feedback(
    call_id: IdPath,
    body: FeedbackIn,
    caller: Caller = Depends(reviewers),
    svc: Services = Depends(services),
) -> FeedbackOut:
    """Send the call's agent a comment (once per call); the call leaves the review queue."""
    await readable_call(svc, caller, call_id)
    now = svc.clock.now()
    async with svc.database.session() as session:
        sent = await feedbacks.send(
            session, call_id=call_id, reviewer_id=caller.id, comment=body.comment, at=now
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="qa.feedback.sent",
            entity_type="call",
            entity_id=call_id,
            detail={"feedback_id": sent.id, "comment": sent.comment},
            at=now,
        )
        out = await _out(session, await feedbacks.view(session, feedback_id=sent.id), _points(svc))
    svc.notify_user(out.agent_id, _message(out, caller))
    return out


def _message(out: FeedbackOut, caller: Caller) -> QaFeedbackMessage:
    return QaFeedbackMessage(
        feedback_id=out.id, call_id=out.call_id, status=out.status, by=caller.user.display_name
    )


async def _agents_own(session: AsyncSession, caller: Caller, feedback_id: int) -> None:
    item = await feedbacks.get(session, feedback_id=feedback_id)
    if item.agent_id != caller.id:
        raise _not_theirs()


async def _recorded(
    session: AsyncSession,
    svc: Services,
    caller: Caller,
    item: QaFeedback,
    action: str,
    said: dict[str, str | None],
    now: datetime,
) -> FeedbackOut:
    """A step of the feedback loop audited on its call; the feedback as it now stands."""
    await audit.record(
        session,
        actor=caller.user.username,
        user_id=caller.id,
        action=action,
        entity_type="call",
        entity_id=item.call_id,
        detail={"feedback_id": item.id, **said},
        at=now,
    )
    return await _out(session, await feedbacks.view(session, feedback_id=item.id), _points(svc))


@router.post("/feedback/{feedback_id}/acknowledge", response_model=FeedbackOut)
async def acknowledge(
    feedback_id: IdPath,
    body: AcknowledgeIn,
    caller: Caller = Depends(agents),
    svc: Services = Depends(services),
) -> FeedbackOut:
    """The agent accepts the comment, or the answer to their dispute; the reviewer is told."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        await _agents_own(session, caller, feedback_id)
        item = await feedbacks.acknowledge(session, feedback_id=feedback_id, note=body.note, at=now)
        out = await _recorded(
            session,
            svc,
            caller,
            item,
            "qa.feedback.acknowledged",
            {"note": item.acknowledgement},
            now,
        )
    svc.notify_user(out.reviewer_id, _message(out, caller))
    return out


@router.post("/feedback/{feedback_id}/dispute", response_model=FeedbackOut)
async def dispute(
    feedback_id: IdPath,
    body: DisputeIn,
    caller: Caller = Depends(agents),
    svc: Services = Depends(services),
) -> FeedbackOut:
    """The agent disputes the review, saying why (once); it goes back to the reviewer."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        await _agents_own(session, caller, feedback_id)
        item = await feedbacks.dispute(session, feedback_id=feedback_id, reason=body.reason, at=now)
        out = await _recorded(
            session, svc, caller, item, "qa.feedback.disputed", {"reason": item.dispute}, now
        )
    svc.notify_user(out.reviewer_id, _message(out, caller))
    return out


@router.post("/feedback/{feedback_id}/answer", response_model=FeedbackOut)
async def answer(
    feedback_id: IdPath,
    body: AnswerIn,
    caller: Caller = Depends(reviewers),
    svc: Services = Depends(services),
) -> FeedbackOut:
    """A reviewer answers the agent's dispute (changing the score is a rule review); the
    agent is told."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        item = await feedbacks.answer(
            session, feedback_id=feedback_id, reviewer_id=caller.id, text=body.answer, at=now
        )
        out = await _recorded(
            session, svc, caller, item, "qa.feedback.answered", {"answer": item.answer}, now
        )
    svc.notify_user(out.agent_id, _message(out, caller))
    return out
