"""A report document as an XLSX workbook: a summary sheet, then one sheet per table, with
numbers, percentages and times kept as values (not text) so they can be worked with; written
through web/spreadsheets.py, so the names and notes in it are never formulas."""

from __future__ import annotations

import re
from datetime import date, datetime

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from web import spreadsheets
from web.report_exports.document import Cell, Document, Kind, Msg, Table
from web.report_exports.labels import Labels

FORMATS = {
    Kind.PERCENT: "0.0%",
    Kind.SECONDS: "0.0",
    Kind.DATETIME: "yyyy-mm-dd hh:mm",
    Kind.DATE: "yyyy-mm-dd",
}
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)
FLAG = PatternFill("solid", fgColor="FDECEA")
TOTAL = PatternFill("solid", fgColor="EEF2F7")
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _value(labels: Labels, value: Cell, kind: Kind) -> spreadsheets.Value:
    if value is None or isinstance(value, int | float | datetime | date):
        return value
    return labels.cell(value, kind)


def _sheet_title(labels: Labels, table: Table, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub(" ", labels.t(table.title))[:28].strip() or table.id
    title, n = base, 2
    while title in taken:
        title, n = f"{base[:26]} {n}", n + 1
    taken.add(title)
    return title


def _write_table(sheet: Worksheet, labels: Labels, table: Table) -> None:
    spreadsheets.append(sheet, [labels.t(table.title)])
    sheet["A1"].font = TITLE
    spreadsheets.append(sheet, [labels.t(c.label) for c in table.columns])
    for cell in sheet[2]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    rows = [
        (row, table.flagged[i] if i < len(table.flagged) else False, False)
        for i, row in enumerate(table.rows)
    ]
    if table.total is not None:
        rows.append((table.total, False, True))
    for row, flagged, total in rows:
        cells = spreadsheets.append(
            sheet, [_value(labels, v, c.kind) for v, c in zip(row, table.columns, strict=True)]
        )
        for cell, column in zip(cells, table.columns, strict=True):
            if column.kind in FORMATS:
                cell.number_format = FORMATS[column.kind]
            if column.wide:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            if flagged:
                cell.fill = FLAG
            if total:
                cell.font, cell.fill = BOLD, TOTAL
    if not table.rows:
        spreadsheets.append(sheet, [labels.t(Msg("reports.empty"))])
    if table.note is not None:
        spreadsheets.append(sheet, [])
        spreadsheets.append(sheet, [labels.t(table.note)])
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = (
            40 if column.wide else 18 if column.kind in (Kind.DATETIME, Kind.TEXT) else 12
        )
    sheet.freeze_panes = "A3"


def _write_summary(sheet: Worksheet, labels: Labels, document: Document) -> None:
    spreadsheets.append(sheet, [labels.t(document.title)])
    sheet["A1"].font = TITLE
    spreadsheets.append(sheet, [labels.t(document.period)])
    spreadsheets.append(sheet, [labels.t(Msg("reports.as_of")), document.as_of])
    sheet["B3"].number_format = FORMATS[Kind.DATETIME]
    spreadsheets.append(sheet, [])
    for fact in document.facts:
        _, cell = spreadsheets.append(
            sheet, [labels.t(fact.label), _value(labels, fact.value, fact.kind)]
        )
        if fact.kind in FORMATS:
            cell.number_format = FORMATS[fact.kind]
    spreadsheets.append(sheet, [])
    for definition in document.definitions:
        spreadsheets.append(sheet, [labels.t(definition)])
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 18


def render_xlsx(document: Document, lang: str | None) -> bytes:
    labels = Labels(lang)
    book = spreadsheets.workbook()
    summary = book.active
    assert summary is not None
    summary.title = labels.t(Msg("reports.summary"))[:31]
    _write_summary(summary, labels, document)
    taken = {summary.title}
    for table in document.tables:
        _write_table(book.create_sheet(_sheet_title(labels, table, taken)), labels, table)
    return spreadsheets.to_bytes(book)
