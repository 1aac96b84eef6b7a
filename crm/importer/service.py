"""Import jobs: an uploaded file's row, its progress, its preview and its commit, guarded so a
job is committed once however often the button is pressed."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import NotFound
from crm.importer.models import ImportJob, ImportJobStatus


async def create_job(
    session: AsyncSession, *, created_by_id: int, filename: str, content: bytes, at: datetime
) -> ImportJob:
    job = ImportJob(
        created_by_id=created_by_id,
        filename=filename[:255],
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        status=ImportJobStatus.CHECKING,
        heartbeat_at=at,
    )
    session.add(job)
    await session.flush()
    return job


async def get_job_or_raise(session: AsyncSession, job_id: int) -> ImportJob:
    job = await session.get(ImportJob, job_id)
    if job is None:
        raise NotFound(f"no import {job_id}", code="import_not_found")
    return job


async def get_jobs(session: AsyncSession, *, limit: int = 20) -> list[ImportJob]:
    """The latest jobs, newest first."""
    query = select(ImportJob).order_by(ImportJob.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def record_progress(
    session: AsyncSession,
    *,
    job_id: int,
    phase: str,
    done: int,
    total: int,
    percent: int,
    at: datetime,
) -> None:
    """The working process's latest word, while the job is still at work."""
    await session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.status.in_((ImportJobStatus.CHECKING, ImportJobStatus.COMMITTING)),
        )
        .values(phase=phase, done=done, total=total, percent=percent, heartbeat_at=at)
    )


async def finish_check(
    session: AsyncSession,
    *,
    job_id: int,
    preview: dict[str, Any],
    fingerprint: str,
    at: datetime,
) -> None:
    await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportJobStatus.CHECKING)
        .values(
            status=ImportJobStatus.CHECKED,
            preview=preview,
            fingerprint=fingerprint,
            phase="check",  # the last of a check's phases, done
            percent=100,
            heartbeat_at=at,
        )
    )


async def fail_job(
    session: AsyncSession, *, job_id: int, problems: list[dict[str, Any]], at: datetime
) -> None:
    """The check or the commit stopped: why, in the problems' own terms."""
    await session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.status.in_((ImportJobStatus.CHECKING, ImportJobStatus.COMMITTING)),
        )
        .values(status=ImportJobStatus.FAILED, problems=problems, heartbeat_at=at)
    )


async def claim_commit(session: AsyncSession, *, job_id: int, by_id: int, at: datetime) -> bool:
    """Checked → committing, for exactly one caller: a second press of the button (another
    tab, another process) finds the job taken and starts nothing."""
    result = await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportJobStatus.CHECKED)
        .values(
            status=ImportJobStatus.COMMITTING,
            committed_by_id=by_id,
            phase="",
            done=0,
            total=0,
            percent=0,
            heartbeat_at=at,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def finish_commit(
    session: AsyncSession, *, job_id: int, report: dict[str, Any], at: datetime
) -> None:
    """Committed, in the import's own transaction: the job says so exactly when the rows are
    written. The file and the preview's row values (customers' personal data) are dropped;
    the preview's counts and the report stay for the record."""
    preview = await session.scalar(select(ImportJob.preview).where(ImportJob.id == job_id))
    await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ImportJobStatus.COMMITTING)
        .values(
            status=ImportJobStatus.COMMITTED,
            report=report,
            content=b"",
            preview=without_rows(preview),
            phase="import",  # the last of a commit's phases, done
            percent=100,
            committed_at=at,
            heartbeat_at=at,
        )
    )


def without_rows(preview: dict[str, Any] | None) -> dict[str, Any] | None:
    """A preview's counts and columns, without the rows' values (`row_count` says how many
    rows there were)."""
    if preview is None:
        return None
    return {**preview, "rows": [], "row_count": len(preview.get("rows", []))}
