"""An agent's own figures for a day: calls handled and talk time (counted as the wallboard
counts them, crm/calls/stats.py), callbacks made and how many were effective, calls coded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import CallbackAttempt, Outcome
from crm.calls.models import Call
from crm.calls.stats import CountedCall, agent_calls
from crm.dispositions.models import CallDisposition


@dataclass(frozen=True, slots=True)
class AgentDay:
    calls_handled: int  # calls the agent answered (queue, direct or outbound)
    talk_seconds: float  # a call still going on counts until now
    callbacks_made: int  # callback attempts the agent made or took (a campaign's included)
    callbacks_effective: int
    calls_coded: int  # of the calls handled, those given a disposition


async def agent_day(
    session: AsyncSession, *, agent_id: int, start: datetime, end: datetime, now: datetime
) -> AgentDay:
    """The agent's figures for calls and attempts started in [start, end)."""
    rows = await session.execute(
        select(
            Call.linkedid,
            Call.started_at,
            Call.answered_at,
            Call.ended_at,
            Call.outcome,
            Call.talk_seconds,
            CallDisposition.id.label("coded"),
        )
        .outerjoin(CallDisposition, CallDisposition.call_id == Call.id)
        .where(Call.agent_id == agent_id, Call.started_at >= start, Call.started_at < end)
    )
    facts, coded = [], 0
    for r in rows:
        facts.append(
            CountedCall(
                linkedid=r.linkedid,
                started_at=r.started_at,
                answered_at=r.answered_at,
                ended_at=r.ended_at,
                outcome=r.outcome,
                talk_seconds=r.talk_seconds,
                agent_id=agent_id,
            )
        )
        coded += r.coded is not None
    handled = agent_calls(facts, now=now).get(agent_id)
    made, effective = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((CallbackAttempt.outcome == Outcome.EFFECTIVE, 1), else_=0)),
            ).where(
                CallbackAttempt.agent_id == agent_id,
                CallbackAttempt.started_at >= start,
                CallbackAttempt.started_at < end,
            )
        )
    ).one()
    return AgentDay(
        calls_handled=handled.handled if handled else 0,
        talk_seconds=round(handled.talk_seconds, 1) if handled else 0.0,
        callbacks_made=made,
        callbacks_effective=effective or 0,
        calls_coded=coded,
    )
