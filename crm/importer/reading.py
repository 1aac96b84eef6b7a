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

    def header(self, name: str) -> str:
        return self.headers.get(name, name)


def read_rows(path: str | Path) -> SheetRows:
    """The header mapping and the non-empty data rows; ImportRejected for an unusable file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        records: Iterable[Sequence[Any]] = _xlsx_records(path)
    elif suffix == ".csv":
        records = _csv_records(path)
    else:
        raise ImportRejected(
            [
                RowError(
                    0,
                    None,
                    path.name,
                    "only .xlsx and .csv files can be imported; save an .xls file as .xlsx first",
                )
            ]
        )
    return _sheet_from_records(records)


def _xlsx_records(path: Path) -> Iterator[Sequence[Any]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError):
        raise ImportRejected(
            [RowError(0, None, path.name, "not a readable .xlsx workbook")]
        ) from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # trust the cells, not the writer's declared size
        yield from sheet.iter_rows(values_only=True)
    finally:
        workbook.close()


def _csv_records(path: Path) -> Iterator[Sequence[Any]]:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise ImportRejected(
                [RowError(0, None, path.name, "the CSV file is neither UTF-8 nor GB18030 text")]
            ) from None
    yield from csv.reader(io.StringIO(text, newline=""))


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _sheet_from_records(records: Iterable[Sequence[Any]]) -> SheetRows:
    iterator = enumerate(records, start=1)
    for number, record in iterator:
        if not all(_is_blank(v) for v in record):
            sheet, columns = _map_header(number, record)
            break
    else:
        raise ImportRejected([RowError(0, None, None, "the file is empty")])
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
                    number, header, None, f"this column and {headers[name]!r} both mean {name}"
                )
            )
        else:
            headers[name] = f"{headers[name]}/{header}" if name in headers else header
            columns.append((index, header, name))
    for required, examples in (("name", "客户姓名/姓名/name"), ("phone", "电话/手机/phone")):
        if required not in headers:
            errors.append(
                RowError(number, None, None, f"no {required} column (a header like {examples})")
            )
    if errors:
        raise ImportRejected(errors)
    sheet = SheetRows(header_row=number, headers=headers, rows=[])
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
