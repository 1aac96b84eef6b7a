"""Complaints (投诉): who received them, which department owes what by when, and their history."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class ComplaintGrade(StrEnum):
    GENERAL = "general"  # 一般性客诉: followed by the agent
    MAJOR = "major"  # compensation, or beyond the agent: the manager's, on site in 2 working days


class ComplaintStatus(StrEnum):
    OPEN = "open"  # received, with the department
    RESOLVED = "resolved"  # resolved on site; customer service calls back
    CLOSED = "closed"  # the customer said they are satisfied


class ComplaintSource(StrEnum):
    CALL = "call"
    CALLBACK = "callback"  # an unsatisfied stage callback
    API = "api"


class ComplaintEventKind(StrEnum):
    """What a complaint's history records."""

    OPENED = "opened"
    SIGNED = "signed"  # the department steps, as Step words them
    VERIFIED = "verified"
    SOLUTION = "solution"
    RESOLVED = "resolved"
    CALL_BACK = "call_back"  # customer service called back after the resolution
    REOPENED = "reopened"
    ESCALATED = "escalated"
    COMPENSATION_PROPOSED = "compensation_proposed"
    COMPENSATION_APPROVED = "compensation_approved"
    ALERT = "alert"  # a step was about to be, or was, late (alerts.py)


class Complaint(TimestampMixin, Base):
    """A complaint and where it stands against its clocks.

    It names the stage-callback attempt that raised it (`attempt_id`) and the task that calls
    the customer back once it is resolved (`callback_task_id`, one task per complaint, reused
    when it is reopened). Callbacks never name a complaint: every link runs from complaints to
    callbacks, so the foreign keys form no cycle."""

    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_status_next_due_at", "status", "next_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    source: Mapped[ComplaintSource] = mapped_column(enum_type(ComplaintSource))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("callback_attempts.id"))
    # First-contact responsibility (首问责任制): the agent who took it owns it until handed on.
    first_contact_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # major complaints
    department: Mapped[str] = mapped_column(String(50))
    category: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text)
    customer_demand: Mapped[str] = mapped_column(Text, default="")
    grade: Mapped[ComplaintGrade] = mapped_column(enum_type(ComplaintGrade))
    status: Mapped[ComplaintStatus] = mapped_column(
        enum_type(ComplaintStatus), default=ComplaintStatus.OPEN
    )
    received_at: Mapped[datetime]
    clocks_from: Mapped[datetime]  # receipt, or the moment it came back to the department
    signed_at: Mapped[datetime | None]
    signed_by: Mapped[str | None] = mapped_column(String(100))  # who signed for the department
    verified_at: Mapped[datetime | None]
    solution_at: Mapped[datetime | None]
    solution: Mapped[str | None] = mapped_column(Text)
    visit_at: Mapped[datetime | None]  # the agreed on-site visit
    resolved_at: Mapped[datetime | None]
    # Deleting a task a complaint is called back on is refused: the complaint is the evidence.
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="RESTRICT"), unique=True
    )
    callback_at: Mapped[datetime | None]
    callback_satisfied: Mapped[bool | None]
    reopened: Mapped[int] = mapped_column(default=0)
    compensation: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    compensation_approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    compensation_approved_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]  # the earliest deadline still open; None when closed
    # The last warning sent ("signed:due_soon"), so each is pushed once across processes.
    alert_state: Mapped[str | None] = mapped_column(String(32))


class ComplaintEvent(Base):
    """Everything that happened to a complaint, in order: the evidence of its handling."""

    __tablename__ = "complaint_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[ComplaintEventKind] = mapped_column(enum_type(ComplaintEventKind))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
