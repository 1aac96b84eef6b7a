"""QA review: calls with their scores, one call with its transcript and scorecard, and the
reviewer's confirm/override of each rule (audited). Agents see only their own calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.calls.models import Direction
from crm.customers import service as customers
from crm.dispositions import service as dispositions
from crm.errors import ValidationError
from crm.quality import reviews
from crm.quality.models import ReviewDecision
from crm.quality.rules import RulesError, load_rules
from crm.quality.scorecard import EvidenceKind
from crm.quality.service import NOT_CODED, calls_for_review, get_score
from crm.transcripts.service import get_job, get_transcripts
from crm.users import service as users
from crm.users.models import Role
from web.auth import Caller, require
from web.moments import IsoMoment
from web.params import DayQuery, IdPath, IdQuery, Offset
from web.recordings import LEGS, readable_call
from web.services import Services, services

router = APIRouter(prefix="/api/qa", tags=["qa"])
viewers = require(Role.QA, Role.SUPERVISOR, Role.AGENT)
reviewers = require(Role.QA, Role.SUPERVISOR)
MAX_POINTS = 10_000  # a scorecard's points, far above any real one


class QaCall(BaseModel):
    id: int
    started_at: datetime
    direction: str
    queue: str | None
    agent_id: int | None
    agent_name: str | None
    customer_id: int | None
    customer_name: str | None
    customer_number: str | None
    talk_seconds: float | None
    outcome: str | None
    score: int | None
    max_score: int | None
    failed_rules: list[str]
    job_status: str | None
    reviewed: bool
    disposition: str | None  # the code its agent gave it in wrap-up


class ReviewIn(BaseModel):
    rule_id: str = Field(max_length=64)
    decision: ReviewDecision
    passed: bool | None = None
    reason: str | None = Field(None, max_length=2000)


class QaCallFacts(BaseModel):
    id: int
    linkedid: str
    direction: str
    queue: str | None
    started_at: IsoMoment
    answered_at: IsoMoment | None
    ended_at: IsoMoment | None
    talk_seconds: float | None
    ring_seconds: float | None
    hung_up_by: str | None
    agent_id: int | None
    agent_name: str | None
    customer_id: int | None
    customer_name: str | None
    customer_number: str | None


class QaRecordings(BaseModel):
    """Which legs can be played: here, or to be fetched from the PBX on play."""

    mixed: bool
    agent: bool
    customer: bool


class QaWord(BaseModel):
    word: str
    start: float  # seconds from the start of the recording
    end: float
    conf: float  # the recognizer's confidence, 0..1


class QaEvidence(BaseModel):
    """A piece of evidence: a kind and its parameters, which the page words."""

    kind: EvidenceKind
    leg: str | None  # agent | customer | None (both, or a PBX fact)
    start: float | None  # None unless the kind points at a moment of the recording
    end: float | None
    params: dict[str, str | int | float | None]  # EVIDENCE_PARAMS names each kind's


class QaRuleReview(BaseModel):
    """The latest review of a rule's automatic verdict."""

    decision: ReviewDecision
    passed: bool | None
    reason: str | None
    reviewer_id: int
    reviewer_name: str | None
    at: IsoMoment


class QaRule(BaseModel):
    """One rule of the scorecard: the automatic verdict, the review, the verdict that counts."""

    id: str = ""
    title: str
    passed: bool | None = None  # the automatic verdict; None: not applicable
    points_lost: int = 0
    evidence: list[QaEvidence] = []
    points: int
    final_passed: bool | None
    final_points_lost: int
    review: QaRuleReview | None


class QaScore(BaseModel):
    automatic_score: int
    automatic_max: int
    score: int  # after the reviews
    max: int
    rules: list[QaRule]
    rules_version: str
    scored_at: IsoMoment


class QaJob(BaseModel):
    """The call's transcription job."""

    status: str
    attempts: int
    last_error: str | None


class QaDisposition(BaseModel):
    """Why the customer called, as the call's agent coded it in wrap-up."""

    code: str
    note: str
    coded_at: datetime


class QaCallDetail(BaseModel):
    """One call for review."""

    call: QaCallFacts
    recordings: QaRecordings
    transcript: dict[str, list[QaWord]]  # by leg: agent, customer
    score: QaScore | None
    disposition: QaDisposition | None
    job: QaJob | None


def _points(svc: Services) -> dict[str, Any]:
    try:
        card = load_rules(svc.settings.qa_rules_path)
    except RulesError:
        return {}
    return {rule.id: rule for rule in card.rules}


@router.get("/calls", response_model=list[QaCall])
async def list_calls(
    date_from: DayQuery = None,
    date_to: DayQuery = None,
    agent_id: IdQuery = None,
    queue: str | None = Query(None, max_length=64),
    kind: Direction | None = Query(None, description="inbound or outbound (callbacks)"),
    score_min: int | None = Query(None, ge=0, le=MAX_POINTS),
    score_max: int | None = Query(None, ge=0, le=MAX_POINTS),
    failed_rule: str | None = Query(None, max_length=64),
    disposition: str | None = Query(
        None, max_length=32, description=f"a disposition code, or {NOT_CODED!r}: not coded yet"
    ),
    limit: int = Query(50, ge=1, le=500),
    offset: Offset = 0,
    caller: Caller = Depends(viewers),
    svc: Services = Depends(services),
) -> list[QaCall]:
    """Answered calls, newest first, with their automatic scores and review state."""
    if caller.role is Role.AGENT:
        agent_id = caller.id
    if disposition not in (None, NOT_CODED, *svc.disposition_codes.names()):
        raise ValidationError(
            f"unknown disposition {disposition!r}", code="unknown_disposition", field="disposition"
        )
    async with svc.database.session() as session:
        found = await calls_for_review(
            session,
            tz=svc.settings.tz,
            day_from=date_from,
            day_to=date_to,
            agent_id=agent_id,
            queue=queue,
            direction=kind,
            score_min=score_min,
            score_max=score_max,
            failed_rule=failed_rule,
            disposition=disposition,
            limit=limit,
            offset=offset,
        )
    return [
        QaCall(
            id=c.call.id,
            started_at=c.call.started_at,
            direction=c.call.direction.value,
            queue=c.call.queue,
            agent_id=c.call.agent_id,
            agent_name=c.agent_name,
            customer_id=c.call.customer_id,
            customer_name=c.customer_name,
            customer_number=c.call.customer_number,
            talk_seconds=c.call.talk_seconds,
            outcome=c.call.outcome.value if c.call.outcome else None,
            score=c.score.score if c.score else None,
            max_score=c.score.max_score if c.score else None,
            failed_rules=c.failed_rules,
            job_status=c.job_status.value if c.job_status else None,
            reviewed=c.reviewed,
            disposition=c.disposition,
        )
        for c in found
    ]


@router.get("/calls/{call_id}", response_model=QaCallDetail)
async def call_detail(
    call_id: IdPath, caller: Caller = Depends(viewers), svc: Services = Depends(services)
) -> QaCallDetail:
    """One call for review: its facts, which recordings exist, both transcript lanes, the
    automatic scorecard with evidence, and the reviews."""
    call = await readable_call(svc, caller, call_id)
    files = svc.recording_files
    async with svc.database.session() as session:
        transcripts = await get_transcripts(session, call_id=call_id)
        score = await get_score(session, call_id=call_id)
        latest = await reviews.latest_reviews(session, call_id)
        job = await get_job(session, call_id=call_id)
        coded = await dispositions.get_for_call(session, call_id=call_id)
        people = {call.agent_id or 0, *(r.reviewer_id for r in latest.values())}
        names = await users.display_names(session, ids=people)
        customer_names = (
            await customers.names(session, ids=[call.customer_id]) if call.customer_id else {}
        )
    rules = _points(svc)
    scored: QaScore | None = None
    if score is not None:
        result = reviews.reviewed_score(score, latest, {k: r.points for k, r in rules.items()})
        for rule in result.rules:
            definition = rules.get(rule["id"])
            rule["title"] = definition.title if definition else rule["id"]
            if rule["review"]:
                rule["review"]["reviewer_name"] = names.get(rule["review"]["reviewer_id"])
        scored = QaScore(
            automatic_score=score.score,
            automatic_max=score.max_score,
            score=result.score,
            max=result.max,
            rules=[QaRule.model_validate(rule) for rule in result.rules],
            rules_version=score.rules_version,
            scored_at=score.scored_at,
        )
    available = {  # here, or to be fetched from the PBX on play
        "agent": files.obtainable(call.recording_agent),
        "customer": files.obtainable(call.recording_customer),
    }
    available["mixed"] = files.obtainable(call.recording) or any(available.values())
    return QaCallDetail(
        call=QaCallFacts(
            id=call.id,
            linkedid=call.linkedid,
            direction=call.direction.value,
            queue=call.queue,
            started_at=call.started_at,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            talk_seconds=call.talk_seconds,
            ring_seconds=call.ring_seconds,
            hung_up_by=call.hung_up_by.value if call.hung_up_by else None,
            agent_id=call.agent_id,
            agent_name=names.get(call.agent_id or 0),
            customer_id=call.customer_id,
            customer_name=customer_names.get(call.customer_id or 0),
            customer_number=call.customer_number,
        ),
        recordings=QaRecordings.model_validate({leg: available[leg] for leg in LEGS}),
        transcript={
            t.leg.value: [QaWord.model_validate(word) for word in t.words] for t in transcripts
        },
        score=scored,
        disposition=None
        if coded is None
        else QaDisposition(code=coded.code, note=coded.note, coded_at=coded.coded_at),
        job=None
        if job is None
        else QaJob(status=job.status.value, attempts=job.attempts, last_error=job.last_error),
    )


@router.post("/calls/{call_id}/reviews", response_model=QaCallDetail, status_code=201)
async def review(
    call_id: IdPath,
    body: ReviewIn,
    caller: Caller = Depends(reviewers),
    svc: Services = Depends(services),
) -> QaCallDetail:
    """Confirm or override one rule's automatic verdict (overrides need a reason)."""
    await readable_call(svc, caller, call_id)
    async with svc.database.session() as session:
        saved = await reviews.review_rule(
            session,
            call_id=call_id,
            rule_id=body.rule_id,
            reviewer_id=caller.id,
            decision=body.decision,
            passed=body.passed,
            reason=body.reason,
            at=svc.clock.now(),
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action=f"qa.{body.decision.value}",
            entity_type="call",
            entity_id=call_id,
            detail={"rule_id": body.rule_id, "passed": saved.passed, "reason": saved.reason},
            at=svc.clock.now(),
        )
    return await call_detail(call_id, caller, svc)
