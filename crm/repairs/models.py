"""Repairs (报修): passed to a crew at once, the crew on site within 8 hours, customer service
calls during and after; every repair is evidence for rating the crew."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.callbacks.models import Satisfaction
from crm.db import Base, TimestampMixin, enum_type


class RepairStatus(StrEnum):
    ASSIGNED = "assigned"  # reported and passed to the crew
    ON_SITE = "on_site"
    DONE = "done"  # repaired; waiting for customer service's call after the repair
    CLOSED = "closed"


class Repair(TimestampMixin, Base):
    __tablename__ = "repairs"
    __table_args__ = (Index("ix_repairs_status_arrival_due_at", "status", "arrival_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    description: Mapped[str] = mapped_column(Text)
    crew: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[RepairStatus] = mapped_column(
        enum_type(RepairStatus), default=RepairStatus.ASSIGNED
    )
    reported_at: Mapped[datetime]
    arrival_due_at: Mapped[datetime]
    arrived_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    during_call_at: Mapped[datetime | None]  # customer service called during the repair
    after_call_at: Mapped[datetime | None]  # ... and after it
    satisfaction: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    notes: Mapped[str] = mapped_column(Text, default="")
    alert_state: Mapped[str | None] = mapped_column(String(32))  # the last warning pushed
