"""Phone calls as the PBX saw them, one row per Asterisk linkedid."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallOutcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    FAILED = "failed"
    NO_AGENT = "no_agent"  # the queue refused or let go the caller: nobody logged in/reachable


class HungUpBy(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"
    PBX = "pbx"  # the dialplan ended the call (the queue gave up or refused the caller)


# A call whose recording is still held (retention and erasure clear the columns with the files).
RECORDING_HELD = (
    "recording IS NOT NULL OR recording_agent IS NOT NULL OR recording_customer IS NOT NULL"
)


class Call(TimestampMixin, Base):
    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx_id", "linkedid"),
        Index("ix_calls_agent_id_started_at", "agent_id", "started_at"),
        # An agent's calls to code (every phone event's state push counts them): those ended
        # today, a range however long the agent's history.
        Index("ix_calls_agent_id_ended_at", "agent_id", "ended_at"),
        Index("ix_calls_customer_number_started_at", "customer_number", "started_at"),
        # The oldest recording still held (/healthz, the wallboard): once retention has
        # cleared years of old calls' recordings, the plain started_at index would walk past
        # every one of them; this one holds only the calls with a recording.
        Index(
            "ix_calls_recording_held_started_at",
            "started_at",
            sqlite_where=text(RECORDING_HELD),
            postgresql_where=text(RECORDING_HELD),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pbx_id: Mapped[str] = mapped_column(String(64), default="default")
    linkedid: Mapped[str] = mapped_column(String(64))
    uniqueid: Mapped[str | None] = mapped_column(String(64))  # the customer's channel
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    caller: Mapped[str | None] = mapped_column(String(64))  # CallerIDNum as presented
    dialed: Mapped[str | None] = mapped_column(String(64))  # number an originate dialed
    # The outside party, normalised: caller of an inbound call, dialed number of an outbound one.
    customer_number: Mapped[str | None] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agent_interface: Mapped[str | None] = mapped_column(String(128))
    agents_rung: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Every agent the customer talked to, in order: the one who answered, then the transfers.
    agents_connected: Mapped[list[str]] = mapped_column(JSON, default=list)
    outcome: Mapped[CallOutcome | None] = mapped_column(enum_type(CallOutcome))  # None: live
    started_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_seconds: Mapped[float | None]
    ring_seconds: Mapped[float | None]
    talk_seconds: Mapped[float | None]
    hangup_cause: Mapped[int | None]
    hung_up_by: Mapped[HungUpBy | None] = mapped_column(enum_type(HungUpBy))
    recording: Mapped[str | None] = mapped_column(String(512))  # mixed file
    recording_agent: Mapped[str | None] = mapped_column(String(512))
    recording_customer: Mapped[str | None] = mapped_column(String(512))
    # True when the bridge did not see the end (it was away) and closed the call on resync.
    end_inferred: Mapped[bool] = mapped_column(default=False)

    @property
    def is_live(self) -> bool:
        return self.ended_at is None
