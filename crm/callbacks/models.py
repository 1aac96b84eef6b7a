"""Stage callbacks (回访): the tasks the schedule creates and every attempt made at them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import Base, TimestampMixin, enum_type
from crm.projects.models import Project


class Stage(StrEnum):
    START = "start"  # 开工回访
    CONCEALED_WORKS = "concealed_works"  # 隐蔽工程回访
    MIDTERM = "midterm"  # 中期回访
    COMPLETION = "completion"  # 完工回访
    POST_COMPLETION = "post_completion"  # monthly after completion
    COMPLAINT = "complaint"  # the call back after a complaint was resolved

    @property
    def date_field(self) -> str | None:
        """The Project column whose date makes this stage's callback due."""
        return f"{self.value}_date" if self in CONSTRUCTION_STAGES else None


CONSTRUCTION_STAGES = (Stage.START, Stage.CONCEALED_WORKS, Stage.MIDTERM, Stage.COMPLETION)


class TaskStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"  # attempts exhausted or refused: a supervisor decides


OPEN_STATUSES = (TaskStatus.PENDING, TaskStatus.IN_PROGRESS, TaskStatus.UNREACHABLE)


class Outcome(StrEnum):
    EFFECTIVE = "effective"  # reached, and the customer answered the questions
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"  # the network or the trunk had no line free: retried like failed
    FAILED = "failed"
    WRONG_PERSON = "wrong_person"
    REFUSED = "refused"
    CALL_LATER = "call_later"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    NEUTRAL = "neutral"
    UNSATISFIED = "unsatisfied"


SATISFACTION_AREAS = ("quality", "crew", "supervisor", "designer")


class MadeBy(StrEnum):
    AGENT = "agent"
    CAMPAIGN = "campaign"


# A project's schedule holds one task per stage and month; complaint call backs (month 0) are
# one per complaint, which `complaints.callback_task_id` (unique) keeps.
_SCHEDULED = text(f"stage != '{Stage.COMPLAINT.value}'")


class CallbackTask(TimestampMixin, Base):
    """A call the call centre owes a project's customer: a stage of the schedule, or the call
    back after a complaint was resolved (stage `complaint`).

    The complaint points at its task (`Complaint.callback_task_id`), as it points at the
    attempt that raised it. Links only run from complaints to callbacks, so complaints →
    callback_attempts → callback_tasks has no cycle and the tables are created and dropped in
    one order. `complaint_id` is no link (no foreign key): the complaint's id, kept for one
    release for the previous one's processes (migration 0010)."""

    __tablename__ = "callback_tasks"
    __table_args__ = (
        Index(
            "uq_callback_tasks_scheduled",
            "project_id",
            "stage",
            "month",
            unique=True,
            sqlite_where=_SCHEDULED,
            postgresql_where=_SCHEDULED,
        ),
        Index("ix_callback_tasks_status_due_date", "status", "due_date"),
        # A customer's card reads every task of their projects, complaint call backs too,
        # which the partial schedule index above leaves out (issue 19).
        Index("ix_callback_tasks_project_id", "project_id"),
        # Campaigns read due tasks in dialing order (crm.campaigns.service.next_tasks).
        Index("ix_callback_tasks_dialing_order", "status", "priority", "due_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    stage: Mapped[Stage] = mapped_column(enum_type(Stage))
    month: Mapped[int] = mapped_column(default=0)  # 1..N for post_completion; 0 otherwise
    due_date: Mapped[date]
    latest_date: Mapped[date]
    priority: Mapped[int] = mapped_column(default=2)  # 1 = grade A ... 3 = grade C
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus), default=TaskStatus.PENDING)
    attempt_count: Mapped[int] = mapped_column(default=0)
    # Not to be dialed before this instant (customer asked for a time, or a retry is due).
    not_before: Mapped[datetime | None]
    # Satisfied by an effective callback (what the "at least 4 effective callbacks" rule counts).
    effective: Mapped[bool] = mapped_column(default=False)
    effective_at: Mapped[datetime | None]
    # The previous release found a complaint's call back by this, and its web processes run
    # on during an upgrade (README: Upgrades): written for them, read only for the tasks they
    # create meanwhile (crm/complaints/service.py). Dropped by the next release.
    complaint_id: Mapped[int | None]

    project: Mapped[Project] = relationship()
    attempts: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="task", order_by="CallbackAttempt.started_at"
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CallbackAttempt(TimestampMixin, Base):
    """One try at a callback task, written before dialing starts so no attempt goes unlogged."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    made_by: Mapped[MadeBy] = mapped_column(enum_type(MadeBy))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    # Indexed: the dialer's redial guard and the reports read attempts by time.
    started_at: Mapped[datetime] = mapped_column(index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    outcome: Mapped[Outcome | None] = mapped_column(enum_type(Outcome))  # None: in progress
    satisfaction_quality: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    satisfaction_crew: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    satisfaction_supervisor: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    satisfaction_designer: Mapped[Satisfaction | None] = mapped_column(enum_type(Satisfaction))
    notes: Mapped[str] = mapped_column(Text, default="")
    call_back_at: Mapped[datetime | None]  # the customer asked to be called at this time
    # When the agent who promised that call back was reminded of it (once, at that time).
    reminded_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    dialed_number: Mapped[str | None] = mapped_column(String(32))

    task: Mapped[CallbackTask] = relationship(back_populates="attempts")

    def satisfaction(self) -> dict[str, Satisfaction | None]:
        return {area: getattr(self, f"satisfaction_{area}") for area in SATISFACTION_AREAS}
