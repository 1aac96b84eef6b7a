"""People who log in: agents (with a SIP extension), supervisors, QA reviewers, admins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import Base, TimestampMixin, enum_type


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    QA = "qa"
    ADMIN = "admin"
    DEPARTMENT = "department"  # other departments: read callback records with a grant


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[Role] = mapped_column(enum_type(Role))
    # The agent's SIP extension ("1001"); the queue interface is derived from it by settings.
    extension: Mapped[str | None] = mapped_column(String(32), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    # A department user's department (工程部, 设计部...): whose complaints they are told about.
    department: Mapped[str | None] = mapped_column(String(50))


class SessionKind(StrEnum):
    BROWSER = "browser"  # cookie + CSRF token
    API = "api"  # bearer token


class UserSession(Base):
    """A login: only the SHA-256 of its token is stored, so a database leak opens nothing."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[SessionKind] = mapped_column(enum_type(SessionKind))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(64), default="")


class LoginThrottle(Base):
    """Password checks charged to one key (a name from an address, a name, an address): the
    decision to check a password is one guarded UPDATE of this row, so parallel guesses
    cannot all pass a count read before any of them is written (crm/users/throttle.py)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)  # checks charged since it went quiet
    last_failure_at: Mapped[datetime] = mapped_column(index=True)  # pruning reads it
    next_allowed_at: Mapped[datetime]  # no check before this (the progressive delay)
