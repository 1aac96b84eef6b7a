"""Retention of uploaded import files (PIPL): a job never committed — left after its
preview, failed, or interrupted — is deleted by the retention job once CALLCENTRE_RETAIN_
IMPORT_HOURS have passed since its last activity, listed by the dry run first and audited;
a committed job keeps its report but never the file or the rows' values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crm.audit.models import AuditEntry
from crm.db import Database
from crm.importer import service as jobs
from crm.importer.models import ImportJob, ImportJobStatus
from crm.retention.planner import RetentionPolicy
from crm.retention.service import RETENTION_DELETE
from crm.users import service as users
from crm.users.models import Role
from telephony.recordings.files import RecordingFiles
from telephony.recordings.retention import run_retention
from web.retention_report import describe

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POLICY = RetentionPolicy(audio_days=180, transcripts_days=730, import_hours=24)
PREVIEW: dict[str, Any] = {"rows": [{"row": 2, "values": {"姓名": "张伟"}, "problems": []}]}


async def make_job(db: Database, status: ImportJobStatus, last_seen: timedelta) -> int:
    """A job holding a file and a preview, its last activity `last_seen` before NOW."""
    async with db.session() as session:
        admin = await users.get_by_username(session, "admin") or await users.create(
            session,
            username="admin",
            password="s3cret-pass",
            display_name="管理员",
            role=Role.ADMIN,
        )
        job = await jobs.create_job(
            session,
            created_by_id=admin.id,
            filename="客户.csv",
            content="姓名,手机\n张伟,13800138000\n".encode(),
            at=NOW - last_seen,
        )
        job.status, job.preview = status, dict(PREVIEW)
        return job.id


async def held(db: Database) -> dict[int, tuple[str, bool, int]]:
    """Each job: its status, whether it still holds its file, how many rows' values."""
    async with db.session() as session:
        return {
            job.id: (job.status.value, bool(job.content), len((job.preview or {})["rows"]))
            for job in await session.scalars(select(ImportJob))
        }


async def audits(db: Database) -> list[tuple[str | None, str | None, dict[str, Any]]]:
    async with db.session() as session:
        entries = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == RETENTION_DELETE).order_by(AuditEntry.id)
        )
        return [(e.entity_type, e.entity_id, e.detail) for e in entries]


async def test_uncommitted_imports_go_after_their_hours_listed_by_the_dry_run_first(
    db: Database, tmp_path: Path
) -> None:
    left = await make_job(db, ImportJobStatus.CHECKED, timedelta(hours=24))  # exactly due
    failed = await make_job(db, ImportJobStatus.FAILED, timedelta(days=3))
    interrupted = await make_job(db, ImportJobStatus.COMMITTING, timedelta(hours=30))
    fresh = await make_job(db, ImportJobStatus.CHECKED, timedelta(hours=23, minutes=59))
    working = await make_job(db, ImportJobStatus.CHECKING, timedelta(minutes=1))
    async with db.session() as session:  # a commit long ago, through the service
        committed = await make_job(db, ImportJobStatus.COMMITTING, timedelta(days=10))
        await jobs.finish_commit(
            session, job_id=committed, report={"customers_created": 1}, at=NOW - timedelta(days=9)
        )
    before = await held(db)
    assert before[committed] == ("committed", False, 0)  # dropped at the commit itself
    files = RecordingFiles(tmp_path, pbx_dir="/var/spool/asterisk/monitor")

    dry = await run_retention(db, files, policy=POLICY, now=NOW, dry_run=True)
    assert [p.job_id for p in dry.imports_planned] == [left, failed, interrupted]
    assert dry.summary()["import_jobs"] == 3
    assert f"would delete import {failed} (failed, never committed): its file and preview" in list(
        describe(dry, POLICY)
    )
    assert await held(db) == before and await audits(db) == []

    real = await run_retention(db, files, policy=POLICY, now=NOW)
    assert real.imports_deleted == [left, failed, interrupted]
    assert await held(db) == {k: before[k] for k in (fresh, working, committed)}
    assert [(kind, entity, detail["status"]) for kind, entity, detail in await audits(db)] == [
        ("import_job", str(left), "checked"),
        ("import_job", str(failed), "failed"),
        ("import_job", str(interrupted), "committing"),
    ]
    assert (await audits(db))[0][2]["policy"] == {"import_hours": 24}
    assert "客户.csv" not in str(await audits(db))  # a file's name may carry a customer's

    again = await run_retention(db, files, policy=POLICY, now=NOW)
    assert again.imports_planned == [] and again.imports_deleted == []
    async with db.session() as session:
        kept = await jobs.get_job_or_raise(session, committed)
        assert kept.report == {"customers_created": 1}
        assert kept.preview is not None and kept.preview["row_count"] == 1
