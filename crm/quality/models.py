"""Stored QA scores (one per call, by the automatic scorecard), reviewers' decisions, the
review queue the sampling rules fill, and the feedback between reviewers and agents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type
from crm.quality.sampling import SampleReason


class CallScore(TimestampMixin, Base):
    """The automatic score of one call; re-scoring replaces it."""

    __tablename__ = "call_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    score: Mapped[int]
    max_score: Mapped[int]  # points of the rules that could be checked on this call
    points_lost: Mapped[int]
    # [{"id", "passed": bool | None, "points_lost",
    #   "evidence": [{kind, leg, start, end, params}]}] (crm/quality/scorecard.py)
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


class AssignmentStatus(StrEnum):
    PENDING = "pending"  # in the queue, waiting for a reviewer's feedback
    REVIEWED = "reviewed"  # a reviewer sent the agent their feedback on it


class QaAssignment(Base):
    """A call the sampling rules put in the review queue (crm/quality/sampling.py): once
    each, with why, for the ISO week it was picked in."""

    __tablename__ = "qa_assignments"
    __table_args__ = (Index("ix_qa_assignments_status_week", "status", "week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # the call's
    week: Mapped[str] = mapped_column(String(8))  # "2026-W49", where the centre is
    reason: Mapped[SampleReason] = mapped_column(enum_type(SampleReason))
    assigned_at: Mapped[datetime]
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who took it
    status: Mapped[AssignmentStatus] = mapped_column(
        enum_type(AssignmentStatus), default=AssignmentStatus.PENDING
    )
    reviewed_at: Mapped[datetime | None]


class FeedbackStatus(StrEnum):
    SENT = "sent"  # the reviewer's comment waits for the agent
    ACKNOWLEDGED = "acknowledged"  # the agent accepted it (after an answer too): closed
    DISPUTED = "disputed"  # the agent disagrees; waits for the reviewer
    ANSWERED = "answered"  # the reviewer answered the dispute; waits for the agent


class QaFeedback(Base):
    """A reviewer's feedback to the agent on one of their calls, and what came of it: the
    agent acknowledges it, or disputes it once and the reviewer answers."""

    __tablename__ = "qa_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    comment: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]
    status: Mapped[FeedbackStatus] = mapped_column(enum_type(FeedbackStatus), index=True)
    dispute: Mapped[str | None] = mapped_column(Text)  # the agent's reason
    disputed_at: Mapped[datetime | None]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
    acknowledgement: Mapped[str | None] = mapped_column(Text)  # the agent's optional note
    acknowledged_at: Mapped[datetime | None]
