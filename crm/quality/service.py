"""Scoring stored calls and reading their scores."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call, Direction, HungUpBy
from crm.errors import NotFound
from crm.quality.models import CallScore
from crm.quality.rules import CallKind, Scorecard
from crm.quality.scorecard import CallFacts, ScoreResult, SpokenWord, score
from crm.transcripts.models import Leg, Transcript
from crm.transcripts.service import get_transcripts

_PARTIES = frozenset({HungUpBy.AGENT, HungUpBy.CUSTOMER})


async def call_facts(session: AsyncSession, call: Call) -> CallFacts:
    """What the PBX told us about the call; a callback is an outbound call or one logged
    against a callback attempt."""
    logged_as_callback = await session.scalar(
        select(exists().where(CallbackAttempt.call_id == call.id))
    )
    is_callback = call.direction is Direction.OUTBOUND or bool(logged_as_callback)
    return CallFacts(
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


async def get_score(session: AsyncSession, *, call_id: int) -> CallScore | None:
    """The call's automatic score, if it was scored."""
    return await session.scalar(select(CallScore).where(CallScore.call_id == call_id))
