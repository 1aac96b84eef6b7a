"""Running an import job: checking an uploaded file into its preview, then committing it, with
progress a page can poll while the work goes on.

The job's process keeps its progress in memory (`JobProgress`, read at once by the status
route) and writes it to the job's row every half second for the other processes. On SQLite
the commit's progress stays in memory: a second writer beside the import's own transaction
would make SQLite refuse one of them, and a SQLite system is one process anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from crm.audit import service as audit
from crm.clock import Clock
from crm.db import Database
from crm.importer import service as jobs
from crm.importer.checking import check_sheet
from crm.importer.preview import preview_of
from crm.importer.reading import read_sheet
from crm.importer.reporting import ImportRejected, RowError
from crm.importer.writing import StalePreview, import_sheet
from crm.settings import Settings

log = logging.getLogger(__name__)

PREVIEW_PHASES = ("read", "validate", "check")
COMMIT_PHASES = ("read", "validate", "check", "import")
FLUSH_SECONDS = 0.5


@dataclass(slots=True)
class JobProgress:
    """Where a running job is: its phase, how far through it, and the whole as a percent."""

    phases: tuple[str, ...]
    phase: str = ""
    done: int = 0
    total: int = 0
    finished: bool = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.phase, self.done, self.total = phase, done, total

    @property
    def percent(self) -> int:
        """0-100 over the job's phases; 100 only once the job has finished."""
        if self.finished:
            return 100
        if self.phase not in self.phases:
            return 0
        share = self.done / self.total if self.total else 1.0
        return min(99, int((self.phases.index(self.phase) + share) * 100 / len(self.phases)))


def problem_json(error: RowError) -> dict[str, Any]:
    return asdict(error) | {"params": dict(error.params)}


def _failure(code: str, reason: str, **params: str) -> dict[str, Any]:
    return problem_json(RowError(0, None, None, reason, code, params))


async def run_check(
    database: Database,
    job_id: int,
    *,
    settings: Settings,
    today: date,
    clock: Clock,
    progress: JobProgress,
) -> None:
    """Read and check the job's file into its preview; nothing but the job is written."""
    async with _Reporting(database, job_id, progress, clock, to_database=True):
        async with database.session() as session:
            job = await jobs.get_job_or_raise(session, job_id)
            content, name = job.content, job.filename
        try:
            sheet = await asyncio.to_thread(read_sheet, content, name=name)
        except ImportRejected as rejected:
            await _fail(database, job_id, [problem_json(e) for e in rejected.errors], clock)
            return
        progress("read", len(sheet.rows), len(sheet.rows))
        try:
            async with database.session() as session:
                checked = await check_sheet(
                    session, sheet, settings=settings, today=today, progress=progress
                )
            preview = preview_of(checked)
            async with database.session() as session:
                await jobs.finish_check(
                    session,
                    job_id=job_id,
                    preview=_json(preview.as_json()),
                    fingerprint=checked.fingerprint(),
                    at=clock.now(),
                )
        except Exception:
            log.exception("checking import %d failed", job_id)
            failure = _failure("check_failed", "the file could not be checked; try again")
            await _fail(database, job_id, [failure], clock)
            return
        progress.finished = True


async def run_commit(
    database: Database,
    job_id: int,
    *,
    actor: str,
    user_id: int,
    settings: Settings,
    today: date,
    clock: Clock,
    progress: JobProgress,
) -> None:
    """Import the job's file in one transaction, checked again first: nothing is written when
    a row has a problem now or when the database moved on since the preview (stale)."""
    async with _Reporting(database, job_id, progress, clock, to_database=not settings.is_sqlite):
        async with database.session() as session:
            job = await jobs.get_job_or_raise(session, job_id)
            content, name, previewed = job.content, job.filename, job.fingerprint or ""
            sha256 = job.sha256
        failure: list[dict[str, Any]] = []
        try:
            sheet = await asyncio.to_thread(read_sheet, content, name=name)
            progress("read", len(sheet.rows), len(sheet.rows))
            async with database.session() as session:
                report = await import_sheet(
                    session,
                    sheet,
                    settings=settings,
                    today=today,
                    progress=progress,
                    previewed=previewed,
                )
                now = clock.now()
                await jobs.finish_commit(session, job_id=job_id, report=asdict(report), at=now)
                await audit.record(
                    session,
                    actor=actor,
                    user_id=user_id,
                    action="import.commit",
                    entity_type="import_job",
                    entity_id=job_id,
                    detail={"file": name, "sha256": sha256} | _counts(asdict(report)),
                    at=now,
                )
        except ImportRejected as rejected:
            failure = [problem_json(e) for e in rejected.errors]
        except StalePreview:
            failure = [
                _failure(
                    "import_stale",
                    "the customers or projects in the database changed since the preview; "
                    "check the file again",
                )
            ]
        except Exception:
            log.exception("committing import %d failed", job_id)
            failure = [_failure("commit_failed", "the import failed; nothing was written")]
        if failure:
            await _fail(database, job_id, failure, clock, actor=actor, user_id=user_id)
            return
        progress.finished = True


def _counts(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "warnings"}


def _json(value: Any) -> Any:
    """JSON-safe: the preview's params and values are text already; tuples become lists."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


async def _fail(
    database: Database,
    job_id: int,
    problems: list[dict[str, Any]],
    clock: Clock,
    *,
    actor: str | None = None,
    user_id: int | None = None,
) -> None:
    async with database.session() as session:
        now = clock.now()
        await jobs.fail_job(session, job_id=job_id, problems=problems, at=now)
        if actor is not None:
            await audit.record(
                session,
                actor=actor,
                user_id=user_id,
                action="import.commit_refused",
                entity_type="import_job",
                entity_id=job_id,
                detail={"codes": sorted({p["code"] for p in problems}), "problems": len(problems)},
                at=now,
            )


class _Reporting:
    """Writes the job's progress to its row every FLUSH_SECONDS while the body runs."""

    def __init__(
        self,
        database: Database,
        job_id: int,
        progress: JobProgress,
        clock: Clock,
        *,
        to_database: bool,
    ) -> None:
        self.database, self.job_id, self.progress, self.clock = database, job_id, progress, clock
        self.to_database = to_database
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        if self.to_database:
            self.task = asyncio.create_task(self._flush())

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        if self.task is not None:
            await self.task

    async def _flush(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), FLUSH_SECONDS)
            if self.stop.is_set():
                return
            progress = self.progress
            try:
                async with self.database.session() as session:
                    await jobs.record_progress(
                        session,
                        job_id=self.job_id,
                        phase=progress.phase,
                        done=progress.done,
                        total=progress.total,
                        percent=progress.percent,
                        at=self.clock.now(),
                    )
            except SQLAlchemyError:  # progress is a courtesy; the job's outcome is not
                log.warning("import %d: progress not recorded", self.job_id, exc_info=True)
