"""Agent states (ready, paused with a reason, wrap-up, logged out) and their history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, enum_type


class AgentStatus(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    WRAPUP = "wrapup"


class AgentState(Base):
    """Where each agent is now: what the agent asked for, which the PBX is kept in line with."""

    __tablename__ = "agent_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[AgentStatus] = mapped_column(enum_type(AgentStatus))
    reason: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime]
    wrapup_until: Mapped[datetime | None]


class AgentStateLog(Base):
    """One row per period spent in a state; supervisors' reports add these up."""

    __tablename__ = "agent_state_log"
    __table_args__ = (Index("ix_agent_state_log_user_id_started_at", "user_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[AgentStatus] = mapped_column(enum_type(AgentStatus))
    reason: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
