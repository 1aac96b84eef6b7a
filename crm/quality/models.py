"""Stored QA scores (one per call, by the automatic scorecard) and reviewers' decisions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class CallScore(TimestampMixin, Base):
    """The automatic score of one call; re-scoring replaces it."""

    __tablename__ = "call_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[int]
    max_score: Mapped[int]  # points of the rules that could be checked on this call
    points_lost: Mapped[int]
    # [{"id", "passed": bool | None, "points_lost", "evidence": [{leg, start, end, text}]}]
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    rules_version: Mapped[str] = mapped_column(String(64))  # the file's `version`
    rules_digest: Mapped[str] = mapped_column(String(16))  # which exact file scored it
    scored_at: Mapped[datetime]


class ReviewDecision(StrEnum):
    CONFIRMED = "confirmed"  # the automatic verdict stands
    OVERRIDDEN = "overridden"  # the reviewer's `passed` replaces it


class RuleReview(Base):
    """A QA reviewer's confirmation or override of one rule on one call; the latest counts,
    earlier ones stay as history."""

    __tablename__ = "rule_reviews"
    __table_args__ = (Index("ix_rule_reviews_call_id_rule_id", "call_id", "rule_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"))
    rule_id: Mapped[str] = mapped_column(String(64))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    decision: Mapped[ReviewDecision] = mapped_column(enum_type(ReviewDecision))
    passed: Mapped[bool | None]  # the verdict after review (None: cannot be judged)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
