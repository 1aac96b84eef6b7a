"""The one writer of the spreadsheets the server hands out (reports, campaign attempts): text
is stored as text and never as a formula, numbers, dates and times stay values.

Text comes from people (a customer's name, a callback note, an imported sheet) and may start
with what a spreadsheet program evaluates: `=HYPERLINK(…)`, `+`/`-`/`@` expressions, DDE
payloads, or a tab or carriage return before one (OWASP, "CSV Injection"). Every text cell is
written as an inline string, and one starting with such a character also carries the
quote-prefix style, the file format's own leading apostrophe: Excel, LibreOffice and WPS show
the text as it was typed, and editing the cell does not turn it into a formula. Characters an
XLSX file cannot hold (control characters) become U+FFFD instead of failing the download.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
Value = str | int | float | Decimal | bool | date | datetime | time | timedelta | None
MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def clean_text(text: str) -> str:
    """The text with what an XLSX file cannot hold replaced (U+FFFD)."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def _as_text(cell: Cell) -> None:
    text = cell.value
    assert isinstance(text, str)
    cell.data_type = "s"  # an inline string: never read back as a formula
    if text.startswith(FORMULA_TRIGGERS):
        cell.quotePrefix = True


def workbook() -> Workbook:
    return Workbook()


def append(sheet: Worksheet, values: Iterable[Value]) -> tuple[Cell, ...]:
    """Add a row below the last; its cells (text as text, see above)."""
    row = [clean_text(v) if isinstance(v, str) else v for v in values]
    sheet.append(row)
    if not row:
        return ()
    cells = tuple(sheet[sheet.max_row])[: len(row)]
    for cell in cells:
        if isinstance(cell.value, str):
            _as_text(cell)
    return cells


def to_bytes(book: Workbook) -> bytes:
    """The file. Every text cell of every sheet is made text once more on the way out, so a
    cell set some other way cannot leave as a formula either."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    if ILLEGAL_CHARACTERS_RE.search(cell.value):
                        cell.value = clean_text(cell.value)
                    _as_text(cell)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
