"""Writing to and reading the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit.models import AuditEntry
from crm.db import utcnow


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
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry; never holds secrets (callers pass what was done, not credentials)."""
    entry = AuditEntry(
        at=at or utcnow(),
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
    if entity_type is not None:
        query = query.where(AuditEntry.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return list(await session.scalars(query))
