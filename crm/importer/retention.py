"""Retention of import jobs (PIPL: an uploaded file is customers' personal data): a job never
committed — checked and left, failed, or interrupted (its process gone mid-work) — is deleted
with its file and preview once `retain_import_hours` have passed since its last activity. A
committed job keeps its report; its file and rows' values are dropped at the commit itself
(`service.finish_commit`). Each deletion audited like the other retention deletions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit.service import record
from crm.importer.models import ImportJob, ImportJobStatus

RETENTION_DELETE = "retention.delete"  # the action of every retention deletion


@dataclass(frozen=True, slots=True)
class ImportPurge:
    """One uncommitted job due for deletion."""

    job_id: int
    status: str
    size: int  # bytes of the uploaded file


async def imports_past_retention(
    session: AsyncSession, *, now: datetime, hours: int, limit: int = 1000
) -> list[ImportPurge]:
    """Uncommitted jobs whose last activity is at least `hours` old, oldest first. A job
    still checking or committing that long has lost its process (a live one beats every
    half second), so it goes too."""
    cutoff = now - timedelta(hours=hours)
    last_activity = func.coalesce(ImportJob.heartbeat_at, ImportJob.created_at)
    rows = await session.execute(
        select(ImportJob.id, ImportJob.status, ImportJob.size)
        .where(ImportJob.status != ImportJobStatus.COMMITTED, last_activity <= cutoff)
        .order_by(ImportJob.id)
        .limit(limit)
    )
    return [ImportPurge(job_id, status.value, size) for job_id, status, size in rows]


async def purge_import(
    session: AsyncSession, *, purge: ImportPurge, hours: int, now: datetime, actor: str
) -> bool:
    """Delete the job, audited in the same transaction; False when it was gone already or
    was committed meanwhile (another run, a late commit)."""
    result = await session.execute(
        delete(ImportJob).where(
            ImportJob.id == purge.job_id, ImportJob.status != ImportJobStatus.COMMITTED
        )
    )
    if not getattr(result, "rowcount", 0):
        return False
    await record(
        session,
        actor=actor,
        action=RETENTION_DELETE,
        entity_type="import_job",
        entity_id=purge.job_id,
        # Never the file's name: it may carry a customer's.
        detail={"status": purge.status, "bytes": purge.size, "policy": {"import_hours": hours}},
        at=now,
    )
    return True
