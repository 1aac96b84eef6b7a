"""Reports for supervisors, admins and QA: each report's table model as JSON for the page, and
the same as an XLSX or PDF download (audited: reports name customers)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, JsonValue

from crm.audit import service as audit
from crm.reports.periods import ReportKind, latest_complete
from crm.users.models import Role
from web import spreadsheets
from web.auth import Caller, require
from web.catalogues import language
from web.errors import answers, file_answer
from web.params import ReportDay
from web.report_exports import build_document, export, report_rules
from web.report_exports.document import Kind, document_json
from web.services import Services, services

router = APIRouter(prefix="/api/reports", tags=["reports"])
readers = require(Role.SUPERVISOR, Role.ADMIN, Role.QA)


class MessageOut(BaseModel):
    """Text the page translates: a catalogue key and its arguments (i18n.t() takes it)."""

    key: str = Field(alias="$t")
    args: dict[str, JsonValue]


class NamesOut(BaseModel):
    """A name the configuration gives in each language (a disposition code's): the page shows
    the one of its language (reports-view.js text())."""

    names: dict[str, str] = Field(alias="$names")


# A table's cell or a headline figure: text, a number, a message, a configured name, or a list
# of them; times are already local text here ("2026-11-23 10:00"), dates ISO ("2026-11-23").
Cell = str | int | float | MessageOut | NamesOut | list[str | MessageOut] | None


class ColumnOut(BaseModel):
    label: MessageOut
    kind: Kind
    wide: bool


class TableOut(BaseModel):
    id: str
    title: MessageOut
    columns: list[ColumnOut]
    rows: list[list[Cell]]
    total: list[Cell] | None  # a last row, set apart
    flagged: list[bool]  # rows to draw attention to
    note: MessageOut | None


class FactOut(BaseModel):
    """A headline figure."""

    id: str
    label: MessageOut
    value: Cell
    kind: Kind


class SeriesOut(BaseModel):
    label: MessageOut
    data: list[int | float | None]
    stack: str | None
    color: str | None


class ChartOut(BaseModel):
    id: str
    title: MessageOut
    type: str  # "bar" or "doughnut"
    labels: list[str | MessageOut]
    series: list[SeriesOut]
    percent: bool
    horizontal: bool
    threshold: float | None  # a line drawn across (the QA points limit)


class ReportOut(BaseModel):
    """A report's table model: what the page, the XLSX file and the PDF file all show."""

    kind: ReportKind
    day: date  # the date that selects the period
    first: date
    last: date
    due: date | None
    as_of: str  # local time, "2026-11-23 10:00"
    title: MessageOut
    period: MessageOut
    facts: list[FactOut]
    charts: list[ChartOut]
    tables: list[TableOut]
    definitions: list[MessageOut]


def _day(svc: Services, kind: ReportKind, day: date | None) -> date:
    return day or latest_complete(kind, svc.today())


def _lang(request: Request, lang: str | None) -> str:
    return language(lang or request.cookies.get("cc_lang"))


async def _download(
    request: Request,
    svc: Services,
    caller: Caller,
    kind: ReportKind,
    day: date | None,
    fmt: str,
    lang: str | None,
) -> Response:
    chosen = _day(svc, kind, day)
    file = await export(
        svc.database,
        svc.settings,
        kind=kind,
        day=chosen,
        fmt=fmt,
        lang=_lang(request, lang),
        now=svc.clock.now(),
    )
    async with svc.database.session() as session:
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="report.export",
            entity_type="report",
            entity_id=None,
            detail={"kind": kind.value, "date": chosen.isoformat(), "format": fmt},
            at=svc.clock.now(),
        )
    return Response(
        file.content,
        media_type=file.media_type,
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get(
    "/{kind}.xlsx",
    response_class=Response,
    responses=file_answer(spreadsheets.MEDIA_TYPE, "the report as a workbook"),
)
async def report_xlsx(
    request: Request,
    kind: ReportKind,
    day: ReportDay = None,
    lang: str | None = Query(None, max_length=8),
    caller: Caller = Depends(readers),
    svc: Services = Depends(services),
) -> Response:
    """The report as a spreadsheet: a summary sheet, then one sheet per table."""
    return await _download(request, svc, caller, kind, day, "xlsx", lang)


@router.get(
    "/{kind}.pdf",
    response_class=Response,
    responses=file_answer("application/pdf", "the report as a PDF")
    | answers(503, "no Chinese font to embed (report_font_missing)"),
)
async def report_pdf(
    request: Request,
    kind: ReportKind,
    day: ReportDay = None,
    lang: str | None = Query(None, max_length=8),
    caller: Caller = Depends(readers),
    svc: Services = Depends(services),
) -> Response:
    """The report as a PDF with an embedded Chinese font (503 report_font_missing without one)."""
    return await _download(request, svc, caller, kind, day, "pdf", lang)


@router.get("/{kind}", response_model=ReportOut)
async def report(
    kind: ReportKind,
    day: ReportDay = None,
    caller: Caller = Depends(readers),
    svc: Services = Depends(services),
) -> ReportOut:
    """The report's table model: headline figures, charts, tables and definitions, as messages
    the page translates. Without a date: the last period already over."""
    document = await build_document(
        svc.database, kind, _day(svc, kind, day), report_rules(svc.settings, svc.clock.now())
    )
    return ReportOut.model_validate(document_json(document))
