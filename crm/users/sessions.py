"""Login sessions and API tokens: random tokens handed out once, only their hash stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.users.models import SessionKind, User, UserSession

TOUCH_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create(
    session: AsyncSession,
    *,
    user: User,
    kind: SessionKind,
    at: datetime,
    lifetime: timedelta,
    ip: str | None = None,
    user_agent: str | None = None,
    label: str = "",
) -> tuple[str, UserSession]:
    """A new session; returns the token (shown once) and the row."""
    token = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=token_hash(token),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24),
        created_at=at,
        expires_at=at + lifetime,
        last_seen_at=at,
        ip=ip,
        user_agent=(user_agent or "")[:255] or None,
        label=label[:64],
    )
    session.add(row)
    await session.flush()
    return token, row


async def resolve(
    session: AsyncSession, token: str, *, at: datetime
) -> tuple[UserSession, User] | None:
    """The live session and its active user for a token, or None (expired, revoked, unknown)."""
    row = await session.scalar(
        select(UserSession).where(UserSession.token_hash == token_hash(token))
    )
    if row is None or row.revoked_at is not None or row.expires_at <= at:
        return None
    user = await session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    if at - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = at
    return row, user


async def revoke(session: AsyncSession, *, session_id: int, at: datetime) -> None:
    """Log out one login (a logout); one already gone is left as it is."""
    row = await session.get(UserSession, session_id)
    if row is not None:
        row.revoked_at = at
        await session.flush()


async def revoke_all(session: AsyncSession, user_id: int, *, at: datetime) -> list[int]:
    """Log a user out everywhere (password change, deactivation); the sessions ended, whose
    open websockets the caller closes."""
    ended = await session.scalars(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=at)
        .returning(UserSession.id)
    )
    return list(ended)
