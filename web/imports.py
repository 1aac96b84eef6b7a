"""Spreadsheet import in the browser (admin): upload a file, watch it being checked, read the
preview (every row with its problems), commit it all or nothing.

The rules are `callcentre import`'s own (crm/importer: one check path for both). A file is
checked and committed as an import job (crm/importer/jobs.py) that runs in the process which
received the request, while the page polls `GET /api/imports/{id}` for its progress: a plain
request works through the reverse proxy and on any web process (the job's row carries the
progress across processes), survives a page reload, and needs no open connection for the
minutes a large file can take. The commit is claimed once (checked → committing), so a
double click, a second tab or a retried request never imports twice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from pydantic import BaseModel

from crm.audit import service as audit
from crm.errors import Conflict, Problem, ValidationError
from crm.importer import service as jobs
from crm.importer.jobs import COMMIT_PHASES, PREVIEW_PHASES, JobProgress, run_check, run_commit
from crm.importer.models import ImportJobStatus
from crm.importer.reading import read_header
from crm.importer.reporting import ImportRejected
from crm.users.models import Role
from web.auth import Caller, require
from web.moments import IsoMoment
from web.params import IdPath
from web.services import Services, services

UPLOAD_PATH = "/api/imports"
router = APIRouter(prefix=UPLOAD_PATH, tags=["imports"])
admins = require(Role.ADMIN)
# A job at work whose process has said nothing for this long is taken for dead (a restart).
SILENT_FOR = timedelta(minutes=2)
AT_WORK = (ImportJobStatus.CHECKING, ImportJobStatus.COMMITTING)


@dataclass
class ImportWork:
    """This process's running jobs: their tasks (kept referenced) and live progress."""

    progress: dict[int, JobProgress] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self, job_id: int, progress: JobProgress, work: Any) -> None:
        self.progress[job_id] = progress
        task = asyncio.create_task(work)
        self.tasks.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self.tasks.discard(done)
            self.progress.pop(job_id, None)

        task.add_done_callback(finished)


def _work(request: Request) -> ImportWork:
    state = request.app.state
    if not hasattr(state, "import_work"):
        state.import_work = ImportWork()
    work: ImportWork = state.import_work
    return work


class ImportProblem(BaseModel):
    """One problem: where (row 0: the file), the cell as written, and the reason, as a code
    with params for the page's translation and in English."""

    row: int
    column: str | None
    value: str | None
    code: str
    params: dict[str, str]
    message: str


class ImportJobOut(BaseModel):
    id: int
    filename: str
    size: int
    status: str  # checking, checked, committing, committed, failed
    phase: str
    percent: int
    created_at: IsoMoment | None
    committed_at: IsoMoment | None
    committable: bool
    rows: int
    ok_rows: int
    bad_rows: int
    columns: list[str]
    warnings: list[str]
    customers_new: int
    customers_updated: int
    projects_new: int
    projects_updated: int
    file_problems: list[ImportProblem]
    problems: list[ImportProblem]  # why a check or commit failed
    report: dict[str, Any] | None


class ImportRowOut(BaseModel):
    row: int
    values: dict[str, str]
    problems: list[ImportProblem]


class ImportRowsOut(BaseModel):
    total: int  # rows matching the filter
    offset: int
    rows: list[ImportRowOut]


def _problem(p: dict[str, Any]) -> ImportProblem:
    return ImportProblem(
        row=p.get("row", 0),
        column=p.get("column"),
        value=p.get("value"),
        code=p.get("code", "invalid"),
        params={str(k): str(v) for k, v in (p.get("params") or {}).items()},
        message=p.get("reason") or p.get("message") or "",
    )


def _view(job: Any, work: ImportWork, svc: Services) -> ImportJobOut:
    preview: dict[str, Any] = job.preview or {}
    status, phase, percent = job.status, job.phase, job.percent
    problems = [_problem(p) for p in job.problems or []]
    live = work.progress.get(job.id)
    if status in AT_WORK and live is not None:
        phase, percent = live.phase, live.percent
    elif status in AT_WORK and (
        job.heartbeat_at is None or svc.clock.now() - job.heartbeat_at > SILENT_FOR
    ):
        status = ImportJobStatus.FAILED
        problems = [
            ImportProblem(
                row=0,
                column=None,
                value=None,
                code="interrupted",
                params={},
                message="the server stopped while working on this file; upload it again",
            )
        ]
    return ImportJobOut(
        id=job.id,
        filename=job.filename,
        size=job.size,
        status=status.value,
        phase=phase,
        percent=percent,
        created_at=job.created_at,
        committed_at=job.committed_at,
        committable=status is ImportJobStatus.CHECKED and bool(preview.get("committable")),
        rows=preview.get("row_count", len(preview.get("rows", []))),
        ok_rows=preview.get("ok_rows", 0),
        bad_rows=preview.get("bad_rows", 0),
        columns=preview.get("columns", []),
        warnings=preview.get("warnings", []),
        customers_new=preview.get("customers_new", 0),
        customers_updated=preview.get("customers_updated", 0),
        projects_new=preview.get("projects_new", 0),
        projects_updated=preview.get("projects_updated", 0),
        file_problems=[_problem(p) for p in preview.get("file_problems", [])],
        problems=problems,
        report=job.report,
    )


def _rejected(rejected: ImportRejected) -> ValidationError:
    """A file not worth a job (not a spreadsheet, unreadable, no name or phone column)."""
    return ValidationError.of(
        [Problem("file", e.code, e.reason, dict(e.params)) for e in rejected.errors]
    )


# What a client sends: one spreadsheet as the multipart part `file` (also the API fuzzer's
# explicit example, so its upload reaches the checks and not only the door).
_UPLOAD_EXAMPLE = {"file": "客户姓名,电话,合同编号\n王建国,13800138000,XA2026-000901\n"}


@router.post(
    "",
    response_model=ImportJobOut,
    status_code=202,
    openapi_extra={
        "requestBody": {"content": {"multipart/form-data": {"example": _UPLOAD_EXAMPLE}}}
    },
)
async def upload(
    request: Request,
    file: Annotated[UploadFile, File()],
    caller: Caller = Depends(admins),
    svc: Services = Depends(services),
) -> ImportJobOut:
    """Start checking a spreadsheet (.xlsx, or .csv in UTF-8 or GB18030): 202 with the job,
    whose preview the page polls for. 413 over CALLCENTRE_MAX_IMPORT_BYTES; 422 for a file
    that is not a spreadsheet, cannot be read, or lacks the name or phone column."""
    name = (file.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1] or "upload"
    content = await file.read()
    try:
        await asyncio.to_thread(read_header, content, name=name)
    except ImportRejected as rejected:
        raise _rejected(rejected) from None
    now = svc.clock.now()
    async with svc.database.session() as session:
        job = await jobs.create_job(
            session, created_by_id=caller.id, filename=name, content=content, at=now
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="import.upload",
            entity_type="import_job",
            entity_id=job.id,
            detail={"file": name, "size": len(content), "sha256": job.sha256},
            at=now,
        )
    work = _work(request)
    progress = JobProgress(PREVIEW_PHASES)
    work.start(
        job.id,
        progress,
        run_check(
            svc.database,
            job.id,
            settings=svc.settings,
            today=svc.today(),
            clock=svc.clock,
            progress=progress,
        ),
    )
    return _view(job, work, svc)


@router.get("/{job_id}", response_model=ImportJobOut)
async def get_job(
    job_id: IdPath,
    request: Request,
    _: Caller = Depends(admins),
    svc: Services = Depends(services),
) -> ImportJobOut:
    """The job's status and progress (poll while `checking` or `committing`), its counts and
    file-level problems; the rows themselves: `/rows`."""
    async with svc.database.session() as session:
        job = await jobs.get_job_or_raise(session, job_id)
        return _view(job, _work(request), svc)


@router.get("/{job_id}/rows", response_model=ImportRowsOut)
async def get_rows(
    job_id: IdPath,
    _: Caller = Depends(admins),
    svc: Services = Depends(services),
    problems_only: bool = False,
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(200, ge=1, le=1000),
) -> ImportRowsOut:
    """The preview's rows in the file's order, each with its values and problems."""
    async with svc.database.session() as session:
        job = await jobs.get_job_or_raise(session, job_id)
        rows: list[dict[str, Any]] = (job.preview or {}).get("rows", [])
    if problems_only:
        rows = [r for r in rows if r.get("problems")]
    return ImportRowsOut(
        total=len(rows),
        offset=offset,
        rows=[
            ImportRowOut(
                row=r["row"],
                values=r.get("values", {}),
                problems=[_problem(p) for p in r.get("problems", [])],
            )
            for r in rows[offset : offset + limit]
        ],
    )


@router.post("/{job_id}/commit", response_model=ImportJobOut, status_code=202)
async def commit(
    job_id: IdPath,
    request: Request,
    caller: Caller = Depends(admins),
    svc: Services = Depends(services),
) -> ImportJobOut:
    """Import the previewed file, all or nothing (202; poll the job). Pressed again while it
    runs or after it is done: the same job, nothing imported twice. 409 while a row has a
    problem, before the check is done, or after it failed."""
    work = _work(request)
    now = svc.clock.now()
    async with svc.database.session() as session:
        job = await jobs.get_job_or_raise(session, job_id)
        view = _view(job, work, svc)
        if job.status in (ImportJobStatus.COMMITTING, ImportJobStatus.COMMITTED):
            return view
        if job.status is not ImportJobStatus.CHECKED:
            raise Conflict("the file is not checked yet", code="import_not_checked")
        if not view.committable:
            raise Conflict(
                "the preview lists problems; fix the file and upload it again",
                code="import_has_problems",
            )
        claimed = await jobs.claim_commit(session, job_id=job_id, by_id=caller.id, at=now)
    if not claimed:  # another request claimed it between our read and our update
        async with svc.database.session() as session:
            return _view(await jobs.get_job_or_raise(session, job_id), work, svc)
    progress = JobProgress(COMMIT_PHASES)
    work.start(
        job_id,
        progress,
        run_commit(
            svc.database,
            job_id,
            actor=caller.user.username,
            user_id=caller.id,
            settings=svc.settings,
            today=svc.today(),
            clock=svc.clock,
            progress=progress,
        ),
    )
    async with svc.database.session() as session:
        return _view(await jobs.get_job_or_raise(session, job_id), work, svc)
