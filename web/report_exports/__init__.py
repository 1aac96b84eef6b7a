"""Reports for people: the table model built from crm.reports (document.py), and the same
model rendered for the page (JSON), as XLSX and as PDF. The page's download and
`callcentre report` both go through `export`, so they produce the same file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from crm.complaints.rules import ComplaintRules
from crm.db import Database
from crm.dispositions.codes import load_codes
from crm.quality.rules import RulesError, load_rules
from crm.reports.daily import daily_report
from crm.reports.monthly import monthly_report
from crm.reports.periods import ReportKind
from crm.reports.rules import ReportRules
from crm.reports.weekly import weekly_report
from crm.settings import Settings
from web.report_exports.daily import daily_document
from web.report_exports.document import Document
from web.report_exports.monthly import monthly_document
from web.report_exports.pdf import render_pdf
from web.report_exports.weekly import weekly_document
from web.report_exports.xlsx import render_xlsx

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def report_rules(settings: Settings, now: datetime) -> ReportRules:
    try:
        points = {rule.id: rule.points for rule in load_rules(settings.qa_rules_path).rules}
    except RulesError:
        points = {}  # the stored scores' own points then count
    complaints = ComplaintRules.of(settings)  # the time limits the complaints run on
    return ReportRules(
        tz=settings.tz,
        now=now,
        answer_within_seconds=settings.answer_within_seconds,
        qa_points_limit=settings.qa_points_limit,
        qa_window_months=settings.qa_points_window_months,
        complaint_limits=complaints.limits,
        calendar=complaints.calendar,
        rule_points=points,
        disposition_codes=load_codes(settings.disposition_codes_path),
    )


async def build_document(
    database: Database, kind: ReportKind, day: date, rules: ReportRules
) -> Document:
    async with database.session() as session:
        if kind is ReportKind.DAILY:
            return daily_document(await daily_report(session, day, rules))
        if kind is ReportKind.WEEKLY:
            return weekly_document(await weekly_report(session, day, rules))
        return monthly_document(await monthly_report(session, day, rules))


@dataclass(frozen=True, slots=True)
class ExportFile:
    content: bytes
    media_type: str
    filename: str


def filename(document: Document, fmt: str) -> str:
    """report-weekly-2026-11-10_2026-11-16.pdf, report-daily-2026-11-12.xlsx …"""
    span = (
        document.first.isoformat()
        if document.first == document.last
        else f"{document.first.isoformat()}_{document.last.isoformat()}"
    )
    return f"report-{document.kind}-{span}.{fmt}"


async def export(
    database: Database,
    settings: Settings,
    *,
    kind: ReportKind,
    day: date,
    fmt: str,
    lang: str | None,
    now: datetime,
) -> ExportFile:
    """The report as an XLSX or PDF file (FontUnavailable for a PDF without a CJK font)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    if fmt == "pdf":  # find the font before the work, so its absence is said at once
        from web.report_exports.fonts import report_font

        report_font(settings.report_font)
    document = await build_document(database, kind, day, report_rules(settings, now))
    content = (
        render_xlsx(document, lang)
        if fmt == "xlsx"
        else render_pdf(document, lang, font_path=settings.report_font)
    )
    return ExportFile(content, FORMATS[fmt], filename(document, fmt))
