"""Scoring stored calls and reading their scores."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call, Direction, HungUpBy
from crm.clock import day_start
from crm.customers.models import Customer
from crm.dispositions.models import CallDisposition
from crm.errors import NotFound
from crm.one_of import one_of
from crm.quality.models import CallScore, RuleReview
from crm.quality.rules import CallKind, Scorecard
from crm.quality.scorecard import ScoredCallFacts, ScoreResult, SpokenWord, score
from crm.transcripts.models import JobStatus, Leg, Transcript, TranscriptionJob
from crm.transcripts.service import get_transcripts, leg_recordings
from crm.users.models import User

_PARTIES = frozenset({HungUpBy.AGENT, HungUpBy.CUSTOMER})


async def call_facts(session: AsyncSession, call: Call) -> ScoredCallFacts:
    """What the PBX told us about the call; a callback is an outbound call or one logged
    against a callback attempt."""
    logged_as_callback = await session.scalar(
        select(exists().where(CallbackAttempt.call_id == call.id))
    )
    is_callback = call.direction is Direction.OUTBOUND or bool(logged_as_callback)
    return ScoredCallFacts(
        kind=CallKind.CALLBACK if is_callback else CallKind.INBOUND,
        ring_seconds=call.ring_seconds,
        # An answered call is ended by one of its two parties; "pbx" ends only unanswered ones.
        hung_up_by=Leg(call.hung_up_by.value) if call.hung_up_by in _PARTIES else None,
    )


def spoken_words(transcripts: Iterable[Transcript]) -> list[SpokenWord]:
    """Both legs' words as the scoring engine takes them."""
    return [
        SpokenWord(transcript.leg, str(w["word"]), float(w["start"]), float(w["end"]))
        for transcript in transcripts
        for w in transcript.words
    ]


async def save_score(
    session: AsyncSession, *, call: Call, result: ScoreResult, card: Scorecard, at: datetime
) -> CallScore:
    """Store the call's score, replacing an earlier one (re-scoring with edited rules)."""
    stored = await get_score(session, call_id=call.id)
    if stored is None:
        stored = CallScore(call_id=call.id)
        session.add(stored)
    stored.agent_id = call.agent_id
    stored.score, stored.max_score = result.score, result.max
    stored.points_lost = result.points_lost
    stored.rules = [rule.as_json() for rule in result.rules]
    stored.rules_version, stored.rules_digest = card.version[:64], card.digest
    stored.scored_at = at
    await session.flush()
    return stored


async def score_call(
    session: AsyncSession, *, call_id: int, card: Scorecard, at: datetime
) -> CallScore:
    """Score a call from its stored transcripts and PBX facts, and store the result."""
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}", field="call_id")
    words = spoken_words(await get_transcripts(session, call_id=call_id))
    result = score(card, await call_facts(session, call), words)
    return await save_score(session, call=call, result=result, card=card, at=at)


@dataclass(frozen=True, slots=True)
class CallToScore:
    """What transcribing and scoring a stored call needs of it."""

    call_id: int
    facts: ScoredCallFacts
    recordings: dict[Leg, str]  # each recorded leg's file, as the PBX named it


async def call_to_score(session: AsyncSession, *, call_id: int) -> CallToScore:
    """The call's facts for the scorecard and its legs' recordings, or NotFound."""
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}", field="call_id")
    return CallToScore(call.id, await call_facts(session, call), leg_recordings(call))


NOT_CODED = "none"  # the disposition filter's value for calls nobody coded

# Calls read at most when a failed rule is asked for: the rules' verdicts are JSON, sorted
# out here rather than by the database.
MAX_SCAN = 5000


@dataclass(frozen=True, slots=True)
class CallForReview:
    """An answered call in the QA list, with its automatic score and where its review is."""

    call: Call
    score: CallScore | None
    customer_name: str | None
    agent_name: str | None
    job_status: JobStatus | None  # its transcription job's, if it was queued
    failed_rules: list[str]  # the rules its automatic score failed
    reviewed: bool  # a reviewer confirmed or overrode a rule
    disposition: str | None  # the code its agent gave it in wrap-up


async def calls_for_review(
    session: AsyncSession,
    *,
    tz: ZoneInfo,
    day_from: date | None = None,
    day_to: date | None = None,
    agent_id: int | None = None,
    queue: str | None = None,
    direction: Direction | None = None,
    score_min: int | None = None,
    score_max: int | None = None,
    failed_rule: str | None = None,
    disposition: str | None = None,
    limit: int,
    offset: int = 0,
) -> list[CallForReview]:
    """Answered calls that ended, newest first, with their scores: those started in the local
    days from `day_from` to `day_to`, of one agent, queue or direction, scored within a range,
    failing one rule or coded with one disposition (`NOT_CODED`: none yet); the page of
    `limit` from `offset`."""
    agent = aliased(User)
    query = (
        select(
            Call,
            CallScore,
            Customer.name.label("customer_name"),
            agent.display_name.label("agent_name"),
            TranscriptionJob.status.label("job_status"),
            CallDisposition.code.label("disposition"),
        )
        .outerjoin(CallScore, CallScore.call_id == Call.id)
        .outerjoin(CallDisposition, CallDisposition.call_id == Call.id)
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .outerjoin(agent, agent.id == Call.agent_id)
        .outerjoin(TranscriptionJob, TranscriptionJob.call_id == Call.id)
        .where(Call.answered_at.is_not(None), Call.ended_at.is_not(None))
        .order_by(Call.started_at.desc(), Call.id.desc())
    )
    if agent_id is not None:
        query = query.where(Call.agent_id == agent_id)
    if day_from is not None:
        query = query.where(Call.started_at >= day_start(day_from, tz))
    if day_to is not None:
        query = query.where(Call.started_at < day_start(day_to + timedelta(days=1), tz))
    if queue:
        query = query.where(Call.queue == queue)
    if direction is not None:
        query = query.where(Call.direction == direction)
    if disposition == NOT_CODED:
        query = query.where(CallDisposition.id.is_(None))
    elif disposition is not None:
        query = query.where(CallDisposition.code == disposition)
    if score_min is not None:
        query = query.where(CallScore.score >= score_min)
    if score_max is not None:
        query = query.where(CallScore.score <= score_max)
    rows = (await session.execute(query.limit(MAX_SCAN if failed_rule else limit + offset))).all()
    reviewed = (
        set(
            await session.scalars(
                select(RuleReview.call_id).where(
                    one_of(RuleReview.call_id, [r.Call.id for r in rows])
                )
            )
        )
        if rows
        else set()
    )
    found = []
    for row in rows:
        score = row.CallScore
        failed = [r["id"] for r in (score.rules if score else []) if r.get("passed") is False]
        if failed_rule and failed_rule not in failed:
            continue
        found.append(
            CallForReview(
                call=row.Call,
                score=score,
                customer_name=row.customer_name,
                agent_name=row.agent_name,
                job_status=row.job_status,
                failed_rules=failed,
                reviewed=row.Call.id in reviewed,
                disposition=row.disposition,
            )
        )
    return found[offset : offset + limit]


async def get_score(session: AsyncSession, *, call_id: int) -> CallScore | None:
    """The call's automatic score, if it was scored."""
    return await session.scalar(select(CallScore).where(CallScore.call_id == call_id))
