"""QA reviewers' confirmations and overrides of the automatic scorecard, and the score after
review. The automatic result is never changed: reviews are kept beside it, the latest per
rule counting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import NotFound, Problem, ValidationError
from crm.quality.models import CallScore, ReviewDecision, RuleReview
from crm.quality.service import get_score


async def latest_reviews(session: AsyncSession, call_id: int) -> dict[str, RuleReview]:
    rows = await session.scalars(
        select(RuleReview)
        .where(RuleReview.call_id == call_id)
        .order_by(RuleReview.at, RuleReview.id)
    )
    return {review.rule_id: review for review in rows}


async def review_rule(
    session: AsyncSession,
    *,
    call_id: int,
    rule_id: str,
    reviewer_id: int,
    decision: ReviewDecision,
    passed: bool | None,
    reason: str | None,
    at: datetime,
) -> RuleReview:
    """Confirm the automatic verdict of a rule, or override it (a reason is required)."""
    score = await get_score(session, call_id=call_id)
    if score is None:
        raise NotFound("this call has no score yet", code="not_scored")
    automatic = next((r for r in score.rules if r.get("id") == rule_id), None)
    if automatic is None:
        raise ValidationError(
            f"the score has no rule {rule_id!r}", code="unknown_rule", field="rule_id"
        )
    reason = (reason or "").strip() or None
    problems = []
    if decision is ReviewDecision.OVERRIDDEN:
        if reason is None:
            problems.append(
                Problem(
                    "reason", "override_reason_required", "say why the automatic result is wrong"
                )
            )
        if passed == automatic.get("passed"):
            problems.append(
                Problem(
                    "passed",
                    "same_as_automatic",
                    "an override must change the verdict; confirm instead",
                )
            )
    else:
        passed = automatic.get("passed")
    if problems:
        raise ValidationError.of(problems)
    review = RuleReview(
        call_id=call_id,
        rule_id=rule_id,
        reviewer_id=reviewer_id,
        decision=decision,
        passed=passed,
        reason=reason,
        at=at,
    )
    session.add(review)
    await session.flush()
    return review


@dataclass(frozen=True, slots=True)
class ReviewedScore:
    score: int
    max: int
    rules: list[dict[str, Any]]  # each automatic rule with `review` and `final_passed`


def reviewed_score(
    score: CallScore, reviews: Mapping[str, RuleReview], points: Mapping[str, int]
) -> ReviewedScore:
    """The score after the latest review of each rule; `points` gives each rule's weight."""
    rules, total, lost = [], 0, 0
    for automatic in score.rules:
        rule_id = automatic.get("id", "")
        review = reviews.get(rule_id)
        final = review.passed if review is not None else automatic.get("passed")
        weight = points.get(rule_id, automatic.get("points_lost", 0))
        if final is not None:
            total += weight
            lost += weight if final is False else 0
        rules.append(
            {
                **automatic,
                "points": weight,
                "final_passed": final,
                "final_points_lost": weight if final is False else 0,
                "review": None
                if review is None
                else {
                    "decision": review.decision.value,
                    "passed": review.passed,
                    "reason": review.reason,
                    "reviewer_id": review.reviewer_id,
                    "at": review.at.isoformat(),
                },
            }
        )
    return ReviewedScore(score=total - lost, max=total, rules=rules)
