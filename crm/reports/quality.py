"""Agents' QA points lost (质检扣分) month by month over half a year, after reviewers'
confirmations and overrides; the manuals' line — 30 points in six months — is flagged."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call
from crm.clock import day_start
from crm.one_of import one_of
from crm.quality.models import CallScore, RuleReview
from crm.quality.reviews import reviewed_score
from crm.users.models import Role, User


@dataclass(frozen=True, slots=True)
class AgentPoints:
    agent_id: int
    name: str
    by_month: list[int]  # points lost in each month, oldest first
    calls_scored: int
    limit: int

    @property
    def total(self) -> int:
        return sum(self.by_month)

    @property
    def flagged(self) -> bool:
        return self.total >= self.limit


async def points_lost(
    session: AsyncSession,
    *,
    months: list[date],
    end: datetime,
    tz: ZoneInfo,
    rule_points: Mapping[str, int],
    limit: int,
) -> list[AgentPoints]:
    """Every agent's points lost on calls started in `months` (first days, oldest first) up to
    `end`, most points first; an agent with no scored call appears with zeros."""
    start = day_start(months[0], tz)
    index = {(m.year, m.month): i for i, m in enumerate(months)}
    scores = list(
        await session.execute(
            select(CallScore, Call.started_at)
            .join(Call, Call.id == CallScore.call_id)
            .where(Call.started_at >= start, Call.started_at < end, CallScore.agent_id.is_not(None))
        )
    )
    reviews: dict[int, dict[str, RuleReview]] = defaultdict(dict)
    if scores:
        for review in await session.scalars(
            select(RuleReview)
            .where(one_of(RuleReview.call_id, [s.call_id for s, _ in scores]))
            .order_by(RuleReview.at, RuleReview.id)
        ):
            reviews[review.call_id][review.rule_id] = review  # the latest counts
    lost: dict[int, list[int]] = defaultdict(lambda: [0] * len(months))
    calls: dict[int, int] = defaultdict(int)
    for score, started_at in scores:
        assert score.agent_id is not None
        local = started_at.astimezone(tz)
        result = reviewed_score(score, reviews[score.call_id], rule_points)
        lost[score.agent_id][index[(local.year, local.month)]] += result.max - result.score
        calls[score.agent_id] += 1
    people = await session.execute(
        select(User.id, User.display_name).where(
            or_(and_(User.role == Role.AGENT, User.is_active), one_of(User.id, list(lost)))
        )
    )
    rows = [
        AgentPoints(agent_id, name, list(lost[agent_id]), calls[agent_id], limit)
        for agent_id, name in people
    ]
    return sorted(rows, key=lambda r: (-r.total, r.name, r.agent_id))
