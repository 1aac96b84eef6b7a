"""Outbound callback campaigns: which tasks to dial, for which agents, when, how often."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"  # finishes the calls in progress, dials nothing new
    STOPPED = "stopped"


class DialMode(StrEnum):
    AGENT_FIRST = "agent_first"  # ring a ready agent, then the customer (progressive)
    CUSTOMER_FIRST = "customer_first"  # ring the customer, answered calls join a queue


class Campaign(TimestampMixin, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus), default=CampaignStatus.DRAFT
    )
    mode: Mapped[DialMode] = mapped_column(enum_type(DialMode), default=DialMode.AGENT_FIRST)
    # Selection; an empty list means "any".
    stages: Mapped[list[str]] = mapped_column(JSON, default=list)
    grades: Mapped[list[str]] = mapped_column(JSON, default=list)
    project_statuses: Mapped[list[str]] = mapped_column(JSON, default=list)
    due_from: Mapped[date | None]
    due_to: Mapped[date | None]  # unset: everything due up to today
    # Who takes the calls: these agents (empty: every agent), or the queue (customer first).
    agent_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    queue: Mapped[str | None] = mapped_column(String(64))
    # When and how fast.
    calling_hours: Mapped[str | None] = mapped_column(String(100))  # unset: the settings'
    max_concurrent: Mapped[int] = mapped_column(default=2)
    pacing_ratio: Mapped[float] = mapped_column(default=1.0)
    # Retries.
    busy_retry_minutes: Mapped[int] = mapped_column(default=10)
    no_answer_retry_minutes: Mapped[int] = mapped_column(default=120)
    failed_retry_minutes: Mapped[int] = mapped_column(default=30)
    max_attempts_per_day: Mapped[int] = mapped_column(default=3)
    max_attempts_total: Mapped[int] = mapped_column(default=6)
    redial_guard_minutes: Mapped[int] = mapped_column(default=5)  # a number rests this long
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
