"""Reading a spreadsheet (.xlsx, or .csv in UTF-8 or GB18030) into its header and data rows."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from crm.importer.columns import field_for_header
from crm.importer.reporting import ImportRejected, RowError


@dataclass(frozen=True, slots=True)
class RawRow:
    number: int  # spreadsheet row, 1-based, counting the header and anything above it
    values: dict[str, Any]  # field → cell (None when blank), phones excluded
    phones: list[tuple[str, Any]]  # (column header, cell) for every phone column


@dataclass(slots=True)
class SheetRows:
    header_row: int
    headers: dict[str, str]  # field → header as written (phones: every phone column, joined)
    rows: list[RawRow]
    warnings: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # the mapped headers as written, in order

    def header(self, name: str) -> str:
        return self.headers.get(name, name)


def read_rows(path: str | Path) -> SheetRows:
    """The header mapping and the non-empty data rows; ImportRejected for an unusable file."""
    path = Path(path)
    return read_sheet(path.read_bytes(), name=path.name)


def read_sheet(data: bytes, *, name: str) -> SheetRows:
    """A file's content, read as `name` says it is (.xlsx or .csv): the command line's file
    and the browser's upload go through here alike. ImportRejected for an unusable file."""
    return _sheet_from_records(_records(data, name))


def read_header(data: bytes, *, name: str) -> SheetRows:
    """Only the header row, mapped (no data rows): whether a file is worth reading at all,
    answered at once for an upload. ImportRejected as `read_sheet` would."""
    return _sheet_from_records(_records(data, name), header_only=True)


def _records(data: bytes, name: str) -> Iterable[Sequence[Any]]:
    suffix = Path(name).suffix.lower()
    if suffix == ".xlsx":
        return _xlsx_records(data, name)
    if suffix == ".csv":
        return _csv_records(data, name)
    raise ImportRejected(
        [
            RowError(
                0,
                None,
                name,
                "only .xlsx and .csv files can be imported; save an .xls file as .xlsx first",
                "not_a_spreadsheet",
                {"name": name},
            )
        ]
    )


# What a damaged or disguised workbook raises inside openpyxl (zip, XML, cell values): an
# uploaded file is anyone's bytes, and each of these is the file's fault, not the server's.
_BROKEN_XLSX = (
    InvalidFileException,
    zipfile.BadZipFile,
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    OSError,
    SyntaxError,  # xml.etree's and lxml's parse errors
)


def _xlsx_records(data: bytes, name: str) -> Iterator[Sequence[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _BROKEN_XLSX:
        raise _unreadable(name, "not a readable .xlsx workbook", "unreadable_xlsx") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # trust the cells, not the writer's declared size
        yield from sheet.iter_rows(values_only=True)
    except _BROKEN_XLSX:
        raise _unreadable(name, "not a readable .xlsx workbook", "unreadable_xlsx") from None
    finally:
        workbook.close()


def _csv_records(data: bytes, name: str) -> Iterator[Sequence[Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise _unreadable(
                name, "the CSV file is neither UTF-8 nor GB18030 text", "unreadable_csv"
            ) from None
    if "\x00" in text:  # binary data named .csv; and no database text column holds a NUL
        raise _unreadable(name, "not a text table (it holds NUL characters)", "unreadable_csv")
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as exc:  # an overlong field, a broken quote: not a text table
        raise _unreadable(name, f"not a readable CSV table ({exc})", "unreadable_csv") from None


def _unreadable(name: str, reason: str, code: str) -> ImportRejected:
    return ImportRejected([RowError(0, None, name, reason, code)])


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _sheet_from_records(
    records: Iterable[Sequence[Any]], *, header_only: bool = False
) -> SheetRows:
    iterator = enumerate(records, start=1)
    for number, record in iterator:
        if not all(_is_blank(v) for v in record):
            sheet, columns = _map_header(number, record)
            break
    else:
        raise ImportRejected([RowError(0, None, None, "the file is empty", "empty_file")])
    if header_only:
        return sheet
    for number, record in iterator:
        row = _raw_row(number, record, columns)
        if row is not None:
            sheet.rows.append(row)
    return sheet


def _map_header(number: int, record: Sequence[Any]) -> tuple[SheetRows, list[tuple[int, str, str]]]:
    """Which column holds which field; rejects a file missing the name or phone column."""
    columns: list[tuple[int, str, str]] = []
    headers: dict[str, str] = {}
    unknown: list[str] = []
    errors: list[RowError] = []
    for index, cell in enumerate(record):
        header = "" if cell is None else str(cell).strip()
        name = field_for_header(header)
        if name is None:
            if header:
                unknown.append(header)
        elif name in headers and name != "phone":
            errors.append(
                RowError(
                    number,
                    header,
                    None,
                    f"this column and {headers[name]!r} both mean {name}",
                    "duplicate_column",
                    {"other": headers[name], "field": name},
                )
            )
        else:
            headers[name] = f"{headers[name]}/{header}" if name in headers else header
            columns.append((index, header, name))
    for required, examples in (("name", "客户姓名/姓名/name"), ("phone", "电话/手机/phone")):
        if required not in headers:
            errors.append(
                RowError(
                    number,
                    None,
                    None,
                    f"no {required} column (a header like {examples})",
                    "missing_column",
                    {"field": required},
                )
            )
    if errors:
        raise ImportRejected(errors)
    sheet = SheetRows(
        header_row=number, headers=headers, rows=[], columns=[h for _, h, _ in columns]
    )
    if unknown:
        sheet.warnings.append("ignored columns: " + ", ".join(unknown))
    return sheet, columns


def _raw_row(
    number: int, record: Sequence[Any], columns: list[tuple[int, str, str]]
) -> RawRow | None:
    values: dict[str, Any] = {}
    phones: list[tuple[str, Any]] = []
    for index, header, name in columns:
        cell = record[index] if index < len(record) else None
        cell = None if _is_blank(cell) else cell
        if name == "phone":
            phones.append((header, cell))
        else:
            values[name] = cell
    if all(v is None for v in values.values()) and all(c is None for _, c in phones):
        return None
    return RawRow(number, values, phones)
