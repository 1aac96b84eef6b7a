"""Applying the retention policies: plan (crm.retention.planner), remove each due call's
recording files from this machine's recordings directory, then clear their columns and
delete the call's due transcripts, scores and row in one audited transaction per call. A call
whose files cannot be removed is left whole and named in the report, to be retried next run;
a dry run only plans."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from crm.db import Database
from crm.importer.retention import ImportPurge, imports_past_retention, purge_import
from crm.retention.planner import Deletion, RetentionPolicy, plan_retention
from crm.retention.service import (
    Deleted,
    apply_deletion,
    calls_past_retention,
    calls_under_open_complaint,
)
from telephony.recordings.errors import RecordingError
from telephony.recordings.files import RecordingFiles

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RetentionReport:
    """What a run would delete (dry run) or did delete."""

    dry_run: bool
    planned: list[Deletion] = field(default_factory=list)
    held: list[int] = field(default_factory=list)  # kept for a complaint not yet closed
    deleted: list[Deleted] = field(default_factory=list)
    files_removed: int = 0
    files_missing: int = 0  # named by the call but already gone from this machine
    failures: list[tuple[int, str]] = field(default_factory=list)  # call id, why kept
    imports_planned: list[ImportPurge] = field(default_factory=list)  # uncommitted imports due
    imports_deleted: list[int] = field(default_factory=list)  # their job ids, once deleted

    def summary(self) -> dict[str, int]:
        if self.dry_run:
            return {
                "calls": len(self.planned),
                "recordings": sum(len(d.recordings) for d in self.planned),
                "transcripts_of_calls": sum(d.transcripts for d in self.planned),
                "scores_of_calls": sum(d.scores for d in self.planned),
                "call_rows": sum(d.call_row for d in self.planned),
                "held_for_complaints": len(self.held),
                "import_jobs": len(self.imports_planned),
            }
        return {
            "calls": len(self.deleted),
            "recordings": sum(len(d.recordings) for d in self.deleted),
            "files_removed": self.files_removed,
            "files_missing": self.files_missing,
            "transcripts": sum(d.transcripts for d in self.deleted),
            "scores": sum(d.scores for d in self.deleted),
            "reviews": sum(d.reviews for d in self.deleted),
            "call_rows": sum(d.call_row for d in self.deleted),
            "held_for_complaints": len(self.held),
            "failed": len(self.failures),
            "import_jobs": len(self.imports_deleted),
        }


async def run_retention(
    database: Database,
    files: RecordingFiles,
    *,
    policy: RetentionPolicy,
    now: datetime,
    dry_run: bool = False,
    actor: str = "retention",
) -> RetentionReport:
    """One pass over the calls past their retention (a batch; the next run takes the rest)."""
    async with database.session() as session:
        held_ids = await calls_under_open_complaint(session)
        calls = await calls_past_retention(session, now=now, policy=policy)
        imports = await imports_past_retention(session, now=now, hours=policy.import_hours)
    plan = plan_retention(calls, now=now, policy=policy, under_open_complaint=held_ids)
    report = RetentionReport(
        dry_run=dry_run, planned=plan.deletions, held=plan.held, imports_planned=imports
    )
    if dry_run:
        return report
    for purge in imports:
        async with database.session() as session:
            if await purge_import(
                session, purge=purge, hours=policy.import_hours, now=now, actor=actor
            ):
                report.imports_deleted.append(purge.job_id)
    for deletion in plan.deletions:
        try:
            removed = await asyncio.to_thread(_remove_files, files, deletion)
        except RecordingError as exc:
            report.failures.append((deletion.call_id, str(exc)))
            log.warning("retention kept call %d: %s", deletion.call_id, exc)
            continue
        try:
            done = await _apply(database, deletion, policy=policy, now=now, actor=actor)
        except IntegrityError:
            # The row is evidence of a record that names it: keep the row, delete the rest.
            why = "its row is still referenced (a complaint, repair or callback names it)"
            report.failures.append((deletion.call_id, why))
            log.warning("retention kept call %d's row: %s", deletion.call_id, why)
            done = await _apply(
                database, replace(deletion, call_row=False), policy=policy, now=now, actor=actor
            )
        report.files_removed += removed
        report.files_missing += len(deletion.recordings) - removed
        if done.anything:
            report.deleted.append(done)
    if report.deleted or report.failures or report.imports_deleted:
        log.info("retention: %s", report.summary())
    return report


def _remove_files(files: RecordingFiles, deletion: Deletion) -> int:
    return sum(files.remove(path) for _, path in deletion.recordings)


async def _apply(
    database: Database, deletion: Deletion, *, policy: RetentionPolicy, now: datetime, actor: str
) -> Deleted:
    async with database.session() as session:
        return await apply_deletion(session, deletion=deletion, policy=policy, now=now, actor=actor)
