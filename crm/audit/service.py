"""Writing to and reading the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from weakref import WeakValueDictionary

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit.models import AuditEntry
from crm.db import Database
from crm.locks import lock_key
from crm.query_filters import equal_where_given

LISTEN = "recording.listen"
_held: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    user_id: int | None = None,
    entity_type: str | None = None,
    entity_id: object = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
    at: datetime,
) -> AuditEntry:
    """Append one entry; never holds secrets (callers pass what was done, not credentials)."""
    entry = AuditEntry(
        at=at,
        actor=actor,
        action=action,
        user_id=user_id,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        detail=detail or {},
        ip=ip,
    )
    session.add(entry)
    await session.flush()
    return entry


async def get_all(
    session: AsyncSession,
    *,
    entity_type: str | None = None,
    entity_id: object = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Recent entries, newest first, optionally for one record or one kind of action."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    query = equal_where_given(
        query,
        (AuditEntry.entity_type, entity_type),
        (AuditEntry.entity_id, None if entity_id is None else str(entity_id)),
        (AuditEntry.action, action),
    )
    return list(await session.scalars(query))


@asynccontextmanager
async def _one_at_a_time(key: str) -> AsyncIterator[None]:
    """Within this process (what SQLite serves); PostgreSQL adds its own lock across them."""
    lock = _held.get(key)
    if lock is None:
        lock = _held[key] = asyncio.Lock()
    async with lock:
        yield


async def record_listen(
    database: Database,
    *,
    actor: str,
    user_id: int,
    call_id: int,
    login_session_id: int,
    detail: dict[str, Any],
    ip: str | None,
    at: datetime,
) -> bool:
    """Audit a listen to a call's recording once per user, call and login session, however
    the player asks for the audio (whole, ranges, seeks, legs): the lookup and the write are
    serialised for that key, so parallel requests cannot both write or both skip it. True
    when this request wrote the entry."""
    key = f"{LISTEN}:{user_id}:{call_id}:{login_session_id}"
    async with _one_at_a_time(key), database.session() as session:
        if database.dialect == "postgresql":  # held until this transaction ends
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            await session.execute(lock, {"key": lock_key(key)})
        seen = await session.scalar(
            select(AuditEntry.id)
            .where(
                AuditEntry.action == LISTEN,
                AuditEntry.user_id == user_id,
                AuditEntry.entity_type == "call",
                AuditEntry.entity_id == str(call_id),
                AuditEntry.detail["session_id"].as_integer() == login_session_id,
            )
            .limit(1)
        )
        if seen is not None:
            return False
        await record(
            session,
            actor=actor,
            user_id=user_id,
            action=LISTEN,
            entity_type="call",
            entity_id=call_id,
            detail={**detail, "session_id": login_session_id},
            ip=ip,
            at=at,
        )
        return True
