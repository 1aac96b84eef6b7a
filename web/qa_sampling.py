"""The QA review queue (issue 17): the calls the sampling rules picked (a share of each
agent's calls every ISO week, every complaint call, every call under a score), for reviewers
to take instead of hand-picking; the rules in effect; running them now. The web role runs
them on its own every few minutes (web/review_sampler.py)."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator

from crm.audit import service as audit
from crm.calls.models import Direction
from crm.quality import review_queue
from crm.quality.models import AssignmentStatus
from crm.quality.review_queue import QueuedCall, SamplingRun
from crm.quality.sampling import SampleReason, parse_week
from crm.users.models import Role
from web.auth import Caller, require
from web.params import IdPath, IdQuery, Offset
from web.services import Services, services

router = APIRouter(prefix="/api/qa", tags=["qa"])
reviewers = require(Role.QA, Role.SUPERVISOR)
WEEK_PATTERN = r"^\d{4}-W\d{2}$"


class SamplingRulesOut(BaseModel):
    share: float = Field(description="of each agent's answered calls per ISO week")
    below_percent: int = Field(description="calls scored under this % of their points")
    complaint_calls: bool
    interval_seconds: float


class QueuedCallOut(BaseModel):
    id: int
    call_id: int
    week: str
    reason: SampleReason
    status: AssignmentStatus
    assigned_at: datetime
    reviewer_id: int | None
    reviewer_name: str | None
    reviewed_at: datetime | None
    agent_id: int
    agent_name: str | None
    call_started_at: datetime
    call_direction: Direction
    customer_name: str | None
    customer_number: str | None
    talk_seconds: float | None
    score: int | None
    max_score: int | None


class SampleIn(BaseModel):
    week: str | None = Field(
        None, description="an ISO week like 2026-W49; none: last week and this one"
    )

    @field_validator("week")
    @classmethod
    def _a_week(cls, value: str | None) -> str | None:
        if value is not None:
            if not re.match(WEEK_PATTERN, value):
                raise ValueError("an ISO week like 2026-W49")
            parse_week(value)  # 2026-W60: ValueError, said as the field's problem
        return value


class SampleRunOut(BaseModel):
    weeks: list[str]
    added: dict[SampleReason, int]
    call_ids: list[int]


def _queued(found: QueuedCall) -> QueuedCallOut:
    item, call = found.assignment, found.call
    return QueuedCallOut(
        id=item.id,
        call_id=call.id,
        week=item.week,
        reason=item.reason,
        status=item.status,
        assigned_at=item.assigned_at,
        reviewer_id=item.reviewer_id,
        reviewer_name=found.reviewer_name,
        reviewed_at=item.reviewed_at,
        agent_id=item.agent_id,
        agent_name=found.agent_name,
        call_started_at=call.started_at,
        call_direction=call.direction,
        customer_name=found.customer_name,
        customer_number=call.customer_number,
        talk_seconds=call.talk_seconds,
        score=found.score.score if found.score else None,
        max_score=found.score.max_score if found.score else None,
    )


def run_out(run: SamplingRun) -> SampleRunOut:
    return SampleRunOut(
        weeks=list(run.weeks),
        added=run.counts(),
        call_ids=[pick.call_id for pick in run.added],
    )


@router.get("/sampling", response_model=SamplingRulesOut)
async def sampling_rules(
    _caller: Caller = Depends(reviewers), svc: Services = Depends(services)
) -> SamplingRulesOut:
    """The sampling rules in effect (CALLCENTRE_QA_SAMPLE_*)."""
    rules = review_queue.rules_of(svc.settings)
    return SamplingRulesOut(
        share=rules.share,
        below_percent=rules.below_percent,
        complaint_calls=rules.complaint_calls,
        interval_seconds=svc.settings.qa_sample_interval_seconds,
    )


@router.get("/queue", response_model=list[QueuedCallOut])
async def queue(
    status: AssignmentStatus | None = Query(
        AssignmentStatus.PENDING, description="pending (the default) or reviewed"
    ),
    week: str | None = Query(None, pattern=WEEK_PATTERN, description="an ISO week: 2026-W49"),
    reason: SampleReason | None = Query(None),
    agent_id: IdQuery = None,
    mine: bool = Query(False, description="only calls nobody took and those I took"),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
    caller: Caller = Depends(reviewers),
    svc: Services = Depends(services),
) -> list[QueuedCallOut]:
    """The review queue: complaint calls first, then low scores, then the weekly share."""
    async with svc.database.session() as session:
        found = await review_queue.list_queue(
            session,
            status=status,
            week=week,
            reason=reason,
            agent_id=agent_id,
            reviewer_id=caller.id if mine else None,
            limit=limit,
            offset=offset,
        )
    return [_queued(item) for item in found]


@router.post("/queue/{assignment_id}/take", response_model=QueuedCallOut)
async def take(
    assignment_id: IdPath, caller: Caller = Depends(reviewers), svc: Services = Depends(services)
) -> QueuedCallOut:
    """Take a queued call to review, so that nobody else does it meanwhile (409 when another
    reviewer has it, or it was reviewed)."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        taken = await review_queue.take(session, assignment_id=assignment_id, reviewer_id=caller.id)
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="qa.queue.taken",
            entity_type="call",
            entity_id=taken.call_id,
            detail={"assignment_id": taken.id, "reason": taken.reason.value},
            at=now,
        )
        found = await review_queue.get_queued(session, assignment_id=assignment_id)
    return _queued(found)


@router.post("/queue/sample", response_model=SampleRunOut)
async def sample_now(
    body: SampleIn, caller: Caller = Depends(reviewers), svc: Services = Depends(services)
) -> SampleRunOut:
    """Run the sampling rules now, over one week or over last week and this one; what was
    queued already stays as it is."""
    now = svc.clock.now()
    tz = svc.settings.tz
    weeks = (body.week,) if body.week else review_queue.weeks_to_sample(now, tz)
    async with svc.database.session() as session:
        run = await review_queue.sample(
            session,
            weeks=weeks,
            rules=review_queue.rules_of(svc.settings),
            key=review_queue.key_of(svc.settings),
            tz=tz,
            now=now,
        )
        out = run_out(run)
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="qa.sampled",
            detail=out.model_dump(mode="json"),
            at=now,
        )
    return out
