"""Import customers, phones and projects from the spreadsheet a renovation company already keeps.

`callcentre import FILE.xlsx|FILE.csv` runs `import_file`. One row describes one project (or a
customer without a project); rows sharing a phone number are the same customer, and a phone or
contract number already in the database updates that customer or project, so a company can
re-import its monthly export and the moved stage dates move the pending callbacks.

The import is all or nothing: every row is checked first and every bad row is reported
(`ImportRejected.errors`, with the spreadsheet row number, the column as written in the file,
the value and the reason); only a clean file is written, in one transaction, through the
customer and project services, so the callback tasks are planned exactly as for a hand-entered
project.

Reading: `.xlsx` (first worksheet) or `.csv` in UTF-8 (with or without BOM) or GB18030 (what a
Chinese Excel saves). The header row is the first non-empty row. Headers match in Chinese or
English, ignoring case, spaces, `_`/`-` and full-width forms (ＰＨＯＮＥ = phone). Unknown
columns are ignored with a warning; a file without a name or a phone column is rejected.

| column | English header | meaning | format |
|---|---|---|---|
| 客户姓名 | name | the customer's name | text, required (1) |
| 电话 | phone | the customer's numbers | at least one per row (2) |
| 地址 | address | the customer's address | text |
| 客户等级 | grade | A (most important), B or C | `A`, `a`, `A级`, `A类`; blank: B (3) |
| 备注 | notes | notes on the customer | text, appended to existing notes |
| 免打扰 | do_not_call | never call this customer | yes/no (4); blank: no (3) |
| 免打扰原因 | do_not_call_reason | why not to call | text; blank: 导入表格标记为免打扰 |
| 合同编号 | contract_number | the project's key | unique in the file (5) |
| 工程地址 | project_address | where the works are | text; blank: the customer's address |
| 设计师 | designer | designer | text |
| 项目经理 | project_manager | project manager | text |
| 工长 | foreman | foreman | text |
| 施工队 | crew | crew | text, e.g. 第三施工队 |
| 签约日期 | contract_date | contract signed | date (6) |
| 开工日期 | start_date | works start: 开工回访 | date (6) |
| 隐蔽工程验收日期 | concealed_works_date | concealed works: 隐蔽工程回访 | date (6) |
| 中期验收日期 | midterm_date | midterm inspection: 中期回访 | date (6) |
| 竣工日期 | completion_date | completion: 完工回访, then monthly | date (6) |
| 状态 | status | the project's status | (7) |

Other headers accepted for the same columns:
- name: 姓名, 业主, 业主姓名, 客户名称, 客户, customer, customer_name
- phone: 手机, 手机号, 手机号码, 联系电话, 电话号码, 联系方式, 座机, 备用电话, any of them
  numbered (电话1, 电话2), phones, mobile, tel, telephone
- address: 客户地址, 联系地址; grade: 等级, 级别; notes: note, remarks
- do_not_call: 勿扰, 拒绝回访, dnc; contract_number: 合同号, contract, contract_no
- project_address: 施工地址, 工地地址; crew: 施工班组, 班组
- contract_date: 合同日期; concealed_works_date: 隐蔽工程日期, 水电验收日期
- midterm_date: 中期日期; completion_date: 完工日期; status: 工程状态

Notes:
1. Rows sharing a phone number are one customer and must agree on the name; a number already
   in the database attaches the row to that customer (same name required).
2. Several phone columns are allowed, and a cell may hold several numbers separated by `，`,
   `、`, `;`, `/` or spaces. Any written form: `138-0013-8000`, `+86 138 0013 8000`,
   `(029)8888 6666`, `8888 6666` (takes `CALLCENTRE_DEFAULT_AREA_CODE`), `029-88886666转801`.
3. For an existing customer a blank cell keeps what the database holds.
4. 是/否, Y/N, yes/no, true/false, 1/0, ✓ (also √, ×).
5. Blank: a customer without a project. A contract number already in the database updates
   that project, if it belongs to the same customer; blank cells keep the database's values.
6. A date cell, or text `2026-03-01`, `2026/3/1`, `2026.3.1`, `2026年3月1日`, `20260301`.
   Stage dates must follow the order of the works (contract, start, concealed works, midterm,
   completion).
7. 已签约/签约/未开工 (signed), 施工中/在建/在施/进行中 (in_progress),
   已完工/完工/竣工/已竣工 (completed), 已取消/取消 (cancelled), or the English words.
   Blank: from the dates as of today (completed once the completion date has passed, in
   progress once the works started, else signed); an existing cancelled project stays so.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.callbacks import service as callbacks
from crm.callbacks.models import CallbackTask
from crm.callbacks.schedule import ScheduleRules, StageDates, check_stage_dates
from crm.customers import service as customers
from crm.customers.models import Customer, Grade, Phone
from crm.db import Database
from crm.errors import DomainError
from crm.phones import split_phone_list
from crm.projects import service as projects
from crm.projects.models import Project, ProjectStatus
from crm.settings import Settings

__all__ = [
    "COLUMN_ALIASES",
    "DEFAULT_DNC_REASON",
    "CustomerEntry",
    "ImportRejected",
    "ImportReport",
    "ProjectEntry",
    "RawRow",
    "RowError",
    "SheetRows",
    "ValidatedImport",
    "derive_status",
    "field_for_header",
    "import_file",
    "parse_bool",
    "parse_date",
    "parse_grade",
    "parse_status",
    "read_rows",
    "validate",
]

Progress = Callable[[str, int, int], None]
_T = TypeVar("_T")

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("客户姓名", "姓名", "业主", "业主姓名", "客户名称", "客户", "name", "customer",
             "customer_name"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "电话号码", "联系方式", "座机",
              "备用电话", "phone", "phones", "mobile", "tel", "telephone"),
    "address": ("地址", "客户地址", "联系地址", "address"),
    "grade": ("客户等级", "等级", "级别", "grade"),
    "notes": ("备注", "notes", "note", "remarks"),
    "do_not_call": ("免打扰", "勿扰", "拒绝回访", "do_not_call", "dnc"),
    "do_not_call_reason": ("免打扰原因", "do_not_call_reason"),
    "contract_number": ("合同号", "合同编号", "contract_number", "contract", "contract_no"),
    "project_address": ("工程地址", "施工地址", "工地地址", "project_address"),
    "designer": ("设计师", "designer"),
    "project_manager": ("项目经理", "project_manager"),
    "foreman": ("工长", "foreman"),
    "crew": ("施工队", "施工班组", "班组", "crew"),
    "contract_date": ("签约日期", "合同日期", "contract_date"),
    "start_date": ("开工日期", "start_date"),
    "concealed_works_date": ("隐蔽工程日期", "隐蔽工程验收日期", "水电验收日期",
                             "concealed_works_date"),
    "midterm_date": ("中期日期", "中期验收日期", "midterm_date"),
    "completion_date": ("完工日期", "竣工日期", "completion_date"),
    "status": ("状态", "工程状态", "status"),
}

PROJECT_TEXT = ("designer", "project_manager", "foreman", "crew")
PROJECT_DATES = ("contract_date", "start_date", "concealed_works_date", "midterm_date",
                 "completion_date")
DEFAULT_DNC_REASON = "导入表格标记为免打扰"
LOOKUP_CHUNK = 500
PROGRESS_EVERY = 100


def _header_key(text: str) -> str:
    """What a header is matched on: NFKC, no spaces/underscores/dashes/stars/colons, any case."""
    return re.sub(r"[\s_\-*:]+", "", unicodedata.normalize("NFKC", text)).casefold()


_FIELD_BY_HEADER = {_header_key(a): f for f, aliases in COLUMN_ALIASES.items() for a in aliases}


def field_for_header(header: str) -> str | None:
    """The field a header names; phone headers may carry a number (电话1, 电话2, phone2)."""
    key = _header_key(header)
    if not key:
        return None
    found = _FIELD_BY_HEADER.get(key)
    if found is None and _FIELD_BY_HEADER.get(key.rstrip("0123456789")) == "phone":
        found = "phone"
    return found


# --- errors and results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem, where the user can find it: row 1 is the spreadsheet's first row."""

    row: int
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", {self.column}"
        value = f" {self.value!r}" if self.value not in (None, "") else ""
        return f"{where}{value}: {self.reason}"


class ImportRejected(Exception):
    """Nothing was imported; `errors` lists every bad row."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.row, e.column or ""))
        super().__init__(f"{len(self.errors)} problem(s), nothing imported")

    def __str__(self) -> str:
        lines = [f"{len(self.errors)} problem(s), nothing imported:"]
        return "\n  ".join([*lines, *map(str, self.errors)])


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    projects_created: int = 0
    projects_updated: int = 0
    projects_unchanged: int = 0
    callback_tasks_created: int = 0
    warnings: list[str] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------


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
        raise ImportRejected([RowError(0, None, path.name, "only .xlsx and .csv files can be "
                                       "imported; save an .xls file as .xlsx first")])
    return _sheet_from_records(records)


def _xlsx_records(path: Path) -> Iterator[Sequence[Any]]:
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError):
        raise ImportRejected([RowError(0, None, path.name, "not a readable .xlsx workbook")]
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
            raise ImportRejected([RowError(0, None, path.name, "the CSV file is neither UTF-8 "
                                           "nor GB18030 text")]) from None
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
            errors.append(RowError(number, header, None,
                                   f"this column and {headers[name]!r} both mean {name}"))
        else:
            headers[name] = f"{headers[name]}/{header}" if name in headers else header
            columns.append((index, header, name))
    for required, examples in (("name", "客户姓名/姓名/name"), ("phone", "电话/手机/phone")):
        if required not in headers:
            errors.append(RowError(number, None, None,
                                   f"no {required} column (a header like {examples})"))
    if errors:
        raise ImportRejected(errors)
    sheet = SheetRows(header_row=number, headers=headers, rows=[])
    if unknown:
        sheet.warnings.append("ignored columns: " + ", ".join(unknown))
    return sheet, columns


def _raw_row(number: int, record: Sequence[Any],
             columns: list[tuple[int, str, str]]) -> RawRow | None:
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


# --- cell parsing (pure, reused by tests) -------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text: integral floats lose their `.0` (Excel stores 2026001 as 2026001.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _code(value: Any) -> str:
    """A cell holding a code (grade, status, yes/no): NFKC, no spaces, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", _text(value))).casefold()


_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"),
    re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def parse_date(value: Any) -> date | None:
    """A date cell or a date written the ways Chinese offices write them; ValueError otherwise."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", _text(value)).strip()
    for pattern in _DATE_PATTERNS:
        if m := pattern.fullmatch(text):
            try:
                return date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                raise ValueError("no such day in the calendar") from None
    raise ValueError("not a date; write 2026-03-01, 2026/3/1, 2026.3.1, 2026年3月1日 "
                     "or 20260301")


_GRADES = {"a": Grade.A, "b": Grade.B, "c": Grade.C}


def parse_grade(value: Any) -> Grade | None:
    """A, B or C, also "A级", "A类", "a"; None when blank."""
    code = _code(value)
    if not code:
        return None
    grade = _GRADES.get(code.removesuffix("级").removesuffix("类").removesuffix("類"))
    if grade is None:
        raise ValueError("the grade is A, B or C")
    return grade


_TRUE = {"是", "y", "yes", "true", "1", "✓", "✔", "√"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘"}


def parse_bool(value: Any) -> bool | None:
    """是/否, Y/N, yes/no, true/false, 1/0, ✓ (and √, ×); None when blank."""
    if isinstance(value, bool):
        return value
    code = _code(value)
    if not code:
        return None
    if code in _TRUE:
        return True
    if code in _FALSE:
        return False
    raise ValueError("write 是 or 否 (or Y/N, yes/no, 1/0, ✓)")


_STATUSES = {
    ProjectStatus.SIGNED: ("已签约", "签约", "未开工", "signed"),
    ProjectStatus.IN_PROGRESS: ("施工中", "在建", "在施", "进行中", "in_progress",
                                "inprogress"),
    ProjectStatus.COMPLETED: ("已完工", "完工", "竣工", "已竣工", "completed"),
    ProjectStatus.CANCELLED: ("已取消", "取消", "cancelled", "canceled"),
}
_STATUS_BY_WORD = {_code(w).replace("_", ""): s for s, words in _STATUSES.items() for w in words}


def parse_status(value: Any) -> ProjectStatus | None:
    """The project status in Chinese or English; None when blank (derived from the dates)."""
    code = _code(value).replace("_", "").replace("-", "")
    if not code:
        return None
    status = _STATUS_BY_WORD.get(code)
    if status is None:
        raise ValueError("the status is 已签约, 施工中, 已完工 or 已取消 "
                         "(signed, in_progress, completed, cancelled)")
    return status


def derive_status(dates: StageDates, today: date) -> ProjectStatus:
    """What a blank status means: completed once the completion date has passed, and so on."""
    if dates.completion is not None and dates.completion <= today:
        return ProjectStatus.COMPLETED
    started = (dates.start, dates.concealed_works, dates.midterm, dates.completion)
    if any(day is not None and day <= today for day in started):
        return ProjectStatus.IN_PROGRESS
    return ProjectStatus.SIGNED


def _name_key(name: str) -> str:
    """Names agree when they differ only in spacing or width ("张 三" = "张三")."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", name)).casefold()


# --- validation (pure: no database) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhoneSource:
    row: int
    column: str
    raw: str  # as written, what the service stores as `raw`


@dataclass(slots=True)
class CustomerEntry:
    """One customer of the file, merged from every row sharing one of its phone numbers."""

    name: str
    rows: list[int]
    phones: dict[str, PhoneSource]  # normalised number → where it was written first
    address: str | None = None  # None: not given (keep the database's value)
    grade: Grade | None = None
    notes: list[str] = field(default_factory=list)
    do_not_call: bool | None = None
    do_not_call_reason: str | None = None


@dataclass(slots=True)
class ProjectEntry:
    row: int
    customer: CustomerEntry
    contract_number: str
    status: ProjectStatus  # as written, or derived from the row's dates as of today
    status_given: bool  # False: an existing project re-derives it from its merged dates
    values: dict[str, Any]  # the project columns the row fills (project_address, dates, ...)
    fallback_address: str | None  # the row's customer address, when no project address


@dataclass(slots=True)
class ValidatedImport:
    customers: list[CustomerEntry]
    projects: list[ProjectEntry]
    rows: int
    headers: dict[str, str]
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Row:
    """One row's parsed cells, before rows are merged into customers."""

    number: int
    name: str
    phones: dict[str, PhoneSource]
    customer: dict[str, Any]
    contract_number: str
    status: ProjectStatus | None
    project: dict[str, Any]


class _RowChecker:
    """Parses one raw row's cells, collecting a RowError for each bad one."""

    def __init__(self, sheet: SheetRows, settings: Settings, errors: list[RowError]) -> None:
        self.sheet = sheet
        self.area_code = settings.default_area_code
        self.errors = errors

    def error(self, row: RawRow, name: str | None, value: Any, reason: str) -> None:
        column = None if name is None else self.sheet.header(name)
        self.errors.append(RowError(row.number, column, None if value is None else _text(value),
                                    reason))

    def parse(self, row: RawRow, name: str, parser: Callable[[Any], Any]) -> Any:
        try:
            return parser(row.values.get(name))
        except ValueError as exc:
            self.error(row, name, row.values.get(name), str(exc))
            return None

    def check(self, row: RawRow) -> _Row:
        before = len(self.errors)
        name = _text(row.values.get("name"))
        if not name:
            self.error(row, "name", None, "the customer's name is required")
        parsed = _Row(
            number=row.number, name=name, phones=self.phones(row),
            customer=self.customer_fields(row),
            contract_number=unicodedata.normalize("NFKC", _text(row.values.get("contract_number"))),
            status=self.parse(row, "status", parse_status),
            project=self.project_fields(row),
        )
        if len(self.errors) == before:
            self.check_project(row, parsed)
        return parsed

    def phones(self, row: RawRow) -> dict[str, PhoneSource]:
        found: dict[str, PhoneSource] = {}
        for header, cell in row.phones:
            for item in _phone_items(cell):
                numbers, problems = customers.parse_phones(
                    [item], default_area_code=self.area_code)
                for problem in problems:
                    self.errors.append(RowError(row.number, header, _text(item), problem.message))
                for phone, raw in numbers:
                    found.setdefault(phone.number, PhoneSource(row.number, header, raw))
        if not found and not any(cell is not None for _, cell in row.phones):
            self.error(row, "phone", None, "at least one phone number is required")
        return found

    def customer_fields(self, row: RawRow) -> dict[str, Any]:
        values = {name: _text(row.values.get(name)) or None
                  for name in ("address", "notes", "do_not_call_reason")}
        values["grade"] = self.parse(row, "grade", parse_grade)
        values["do_not_call"] = self.parse(row, "do_not_call", parse_bool)
        return values

    def project_fields(self, row: RawRow) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("project_address", *PROJECT_TEXT):
            if text := _text(row.values.get(name)):
                values[name] = text
        for name in PROJECT_DATES:
            day = self.parse(row, name, parse_date)
            if day is not None:
                values[name] = day
        return values

    def check_project(self, row: RawRow, parsed: _Row) -> None:
        """The services' own stage-date rules, and no project details without a contract."""
        if not parsed.contract_number:
            if parsed.project or parsed.status is not None:
                given = next(iter(parsed.project), "status")
                self.error(row, "contract_number", None,
                           f"the row has project details ({self.sheet.header(given)}) but no "
                           "contract number")
            return
        dates = StageDates.of_project(parsed.project)
        for problem in check_stage_dates(dates, parsed.status):
            name = problem.field or "status"
            self.error(row, name, parsed.project.get(name), problem.message)


def _phone_items(cell: Any) -> list[str]:
    """The numbers in one phone cell: text may hold several; Excel numbers are one each."""
    if cell is None:
        return []
    if isinstance(cell, str):
        return split_phone_list(cell)
    return [_text(cell)]


class _CustomerGrouper:
    """Rows sharing a phone number are one customer, provided they agree on the name."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        self.by_number: dict[str, CustomerEntry] = {}
        self.entries: list[CustomerEntry] = []
        self.warnings: list[str] = []

    def add(self, row: _Row) -> CustomerEntry | None:
        linked: list[CustomerEntry] = []
        conflict = False
        for number, source in row.phones.items():
            entry = self.by_number.get(number)
            if entry is None or any(e is entry for e in linked):
                continue
            if _name_key(entry.name) != _name_key(row.name):
                first = entry.phones[number]
                self.errors.append(RowError(
                    row.number, source.column, source.raw,
                    f"this number is {entry.name}'s on row {first.row}, not {row.name}'s"))
                conflict = True
            else:
                linked.append(entry)
        if conflict:
            return None
        entry = self._merge(linked) if linked else self._new(row)
        self._absorb(entry, row)
        return entry

    def _new(self, row: _Row) -> CustomerEntry:
        entry = CustomerEntry(name=row.name, rows=[], phones={})
        self.entries.append(entry)
        return entry

    def _merge(self, linked: list[CustomerEntry]) -> CustomerEntry:
        """A row linking two groups of rows makes them one customer."""
        keep = linked[0]
        for other in linked[1:]:
            for number, source in other.phones.items():
                keep.phones.setdefault(number, source)
                self.by_number[number] = keep
            keep.rows += other.rows
            keep.notes += [n for n in other.notes if n not in keep.notes]
            for name in ("address", "grade", "do_not_call", "do_not_call_reason"):
                if getattr(keep, name) is None:
                    setattr(keep, name, getattr(other, name))
            self.entries.remove(other)
        return keep

    def _absorb(self, entry: CustomerEntry, row: _Row) -> None:
        entry.rows.append(row.number)
        for number, source in row.phones.items():
            entry.phones.setdefault(number, source)
            self.by_number[number] = entry
        fields = row.customer
        if fields["notes"] and fields["notes"] not in entry.notes:
            entry.notes.append(fields["notes"])
        for name in ("address", "grade", "do_not_call", "do_not_call_reason"):
            value, current = fields[name], getattr(entry, name)
            if value is None:
                continue
            if current is None:
                setattr(entry, name, value)
            elif current != value:
                self.warnings.append(f"row {row.number}: {entry.name}'s {name} {value!s} "
                                     f"differs from an earlier row's {current!s}; kept "
                                     f"{current!s}")


def validate(rows: SheetRows, *, settings: Settings, today: date,
             progress: Progress | None = None) -> ValidatedImport | list[RowError]:
    """Every row checked and merged into customers and projects, or every problem found."""
    errors: list[RowError] = []
    checker = _RowChecker(rows, settings, errors)
    grouper = _CustomerGrouper(errors)
    grouped: list[_Row] = []
    total = len(rows.rows)
    for done, raw in enumerate(rows.rows, start=1):
        parsed = checker.check(raw)
        if parsed.name and parsed.phones and grouper.add(parsed) is not None:
            grouped.append(parsed)
        if progress and (done % PROGRESS_EVERY == 0 or done == total):
            progress("validate", done, total)
    project_entries = _projects(grouped, grouper.by_number, errors,
                                rows.header("contract_number"), today)
    if errors:
        return errors
    return ValidatedImport(customers=grouper.entries, projects=project_entries, rows=total,
                           headers=rows.headers, warnings=rows.warnings + grouper.warnings)


def _projects(grouped: list[_Row], entry_of_number: dict[str, CustomerEntry],
              errors: list[RowError], column: str, today: date) -> list[ProjectEntry]:
    """One project per contract number; a repeated contract number is a bad row."""
    seen: dict[str, int] = {}
    result: list[ProjectEntry] = []
    for row in grouped:
        if not row.contract_number:
            continue
        # Found through the row's phone: a later row may have merged its customer into another.
        entry = entry_of_number[next(iter(row.phones))]
        key = row.contract_number.casefold()
        if key in seen:
            errors.append(RowError(row.number, column, row.contract_number,
                                   f"contract number already on row {seen[key]}"))
            continue
        seen[key] = row.number
        status = row.status or derive_status(StageDates.of_project(row.project), today)
        result.append(ProjectEntry(row=row.number, customer=entry,
                                   contract_number=row.contract_number, status=status,
                                   status_given=row.status is not None, values=row.project,
                                   fallback_address=row.customer["address"]))
    return result


# --- importing (one transaction) ----------------------------------------------------------


async def import_file(database: Database, path: str | Path, *, settings: Settings, today: date,
                      progress: Progress | None = None) -> ImportReport:
    """Read, check and import a spreadsheet; ImportRejected (nothing written) on any bad row.

    `progress(phase, done, total)` is called as the work advances, phases being "read",
    "validate", "check" (looking the file's numbers up in the database) and "import".
    """
    sheet = read_rows(path)
    if progress:
        progress("read", len(sheet.rows), len(sheet.rows))
    validated = validate(sheet, settings=settings, today=today, progress=progress)
    if isinstance(validated, list):
        raise ImportRejected(validated)
    async with database.session() as session:
        existing = await _Existing.load(session, validated, progress)
        plan = _resolve(validated, existing, today)
        report = await _write(session, validated, plan, settings, progress)
    return report


def _chunks(items: Sequence[_T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


@dataclass(slots=True)
class _Existing:
    """What the database already holds for the file's phone and contract numbers."""

    owners_of_number: dict[str, set[int]]
    customers: dict[int, Customer]
    projects: dict[str, Project]

    @classmethod
    async def load(cls, session: AsyncSession, validated: ValidatedImport,
                   progress: Progress | None) -> _Existing:
        """Batch look-ups, a few hundred numbers per query, never one query per row."""
        numbers = sorted({n for entry in validated.customers for n in entry.phones})
        contracts = sorted({p.contract_number for p in validated.projects})
        total = len(numbers) + len(contracts)

        def report(done: int) -> None:
            if progress:
                progress("check", done, total)

        owners = await _phone_owners(session, numbers, report)
        projects_found = await _projects_by_contract(session, contracts,
                                                     lambda done: report(len(numbers) + done))
        ids = {i for found in owners.values() for i in found}
        ids |= {p.customer_id for p in projects_found.values()}
        return cls(owners, await _customers_by_id(session, sorted(ids)), projects_found)


async def _phone_owners(session: AsyncSession, numbers: Sequence[str],
                        report: Callable[[int], None]) -> dict[str, set[int]]:
    """Normalised number → ids of the customers having it."""
    owners: dict[str, set[int]] = {}
    done = 0
    for chunk in _chunks(numbers):
        rows = await session.execute(
            select(Phone.number, Phone.customer_id).where(Phone.number.in_(chunk)))
        for number, customer_id in rows:
            owners.setdefault(number, set()).add(customer_id)
        done += len(chunk)
        report(done)
    return owners


async def _projects_by_contract(session: AsyncSession, contracts: Sequence[str],
                                report: Callable[[int], None]) -> dict[str, Project]:
    """Contract number → existing project, with its customer loaded (for error messages)."""
    found: dict[str, Project] = {}
    done = 0
    for chunk in _chunks(contracts):
        query = (select(Project).where(Project.contract_number.in_(chunk))
                 .options(selectinload(Project.customer)))
        found.update((p.contract_number, p) for p in await session.scalars(query))
        done += len(chunk)
        report(done)
    return found


async def _customers_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for chunk in _chunks(ids):
        query = select(Customer).where(Customer.id.in_(chunk)).options(
            selectinload(Customer.phones))
        found.update((c.id, c) for c in await session.scalars(query))
    return found


@dataclass(slots=True)
class _Plan:
    """Which existing customer each file customer is, and what changes each project gets."""

    customer_of: dict[int, Customer] = field(default_factory=dict)  # id(entry) → existing
    project_changes: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(project)
    existing_projects: dict[int, Project] = field(default_factory=dict)  # id(project) → row
    errors: list[RowError] = field(default_factory=list)


def _resolve(validated: ValidatedImport, existing: _Existing, today: date) -> _Plan:
    """Attach the file to the database; ImportRejected if names or contracts disagree."""
    plan = _Plan()
    contract_column = validated.headers.get("contract_number", "contract_number")
    by_customer: dict[int, list[ProjectEntry]] = {}
    for project in validated.projects:
        by_customer.setdefault(id(project.customer), []).append(project)
    for entry in validated.customers:
        customer = _match_customer(entry, by_customer.get(id(entry), []), existing, plan.errors)
        if customer is not None:
            plan.customer_of[id(entry)] = customer
    for project in validated.projects:
        current = existing.projects.get(project.contract_number)
        owner = plan.customer_of.get(id(project.customer))
        if current is None:
            plan.project_changes[id(project)] = {**_service_fields(project.values),
                                                 "status": project.status}
        elif owner is None or owner.id != current.customer_id:
            plan.errors.append(RowError(
                project.row, contract_column, project.contract_number,
                f"this contract belongs to {current.customer.name} (customer "
                f"#{current.customer_id}) in the database, not to {project.customer.name}"))
        else:
            plan.existing_projects[id(project)] = current
            plan.project_changes[id(project)] = _project_update(project, current, today,
                                                                plan.errors, validated.headers)
    if plan.errors:
        raise ImportRejected(plan.errors)
    return plan


def _match_customer(entry: CustomerEntry, entry_projects: list[ProjectEntry],
                    existing: _Existing, errors: list[RowError]) -> Customer | None:
    """The existing customer having one of the entry's numbers (or, failing that, its contract)."""
    owners: dict[int, PhoneSource] = {}
    for number, source in entry.phones.items():
        for customer_id in sorted(existing.owners_of_number.get(number, ())):
            owners.setdefault(customer_id, source)
    if not owners:
        by_contract = {existing.projects[p.contract_number].customer_id for p in entry_projects
                       if p.contract_number in existing.projects}
        customer = existing.customers[by_contract.pop()] if len(by_contract) == 1 else None
        if customer is not None and _name_key(customer.name) == _name_key(entry.name):
            return customer  # a known customer whose phone number changed
        return None
    found = [(existing.customers[i], source) for i, source in owners.items()]
    if len(found) > 1:
        names = ", ".join(f"{c.name} (#{c.id})" for c, _ in found)
        source = found[1][1]
        errors.append(RowError(source.row, source.column, source.raw,
                               f"{entry.name}'s numbers belong to different customers in the "
                               f"database: {names}"))
        return None
    customer, source = found[0]
    if _name_key(customer.name) != _name_key(entry.name):
        errors.append(RowError(source.row, source.column, source.raw,
                               f"this number belongs to {customer.name} (customer "
                               f"#{customer.id}) in the database, not to {entry.name}"))
        return None
    return customer


def _service_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The sheet's project columns under the project service's names."""
    return {("address" if k == "project_address" else k): v for k, v in values.items()}


def _project_update(project: ProjectEntry, current: Project, today: date,
                    errors: list[RowError], headers: dict[str, str]) -> dict[str, Any]:
    """The changes a row brings to an existing project, checked against its merged dates."""
    given = _service_fields(project.values)
    merged = {name: getattr(current, name) for name in projects.DATE_FIELDS} | given
    dates = StageDates.of_project(merged)
    status = project.status
    if not project.status_given:
        keep_cancelled = current.status is ProjectStatus.CANCELLED
        status = ProjectStatus.CANCELLED if keep_cancelled else derive_status(dates, today)
    for problem in check_stage_dates(dates, status):
        name = problem.field or "status"
        value = merged.get(name)
        errors.append(RowError(project.row, headers.get(name, name),
                               None if value is None else _text(value),
                               f"{problem.message} (with the dates already in the database)"))
    changes = {k: v for k, v in given.items() if getattr(current, k) != v}
    if status is not current.status:
        changes["status"] = status
    return changes


async def _count_tasks(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CallbackTask)) or 0)


class _Writer:
    """Writes the resolved file through the services, turning their refusals into RowErrors."""

    def __init__(self, session: AsyncSession, validated: ValidatedImport, plan: _Plan,
                 settings: Settings, progress: Progress | None) -> None:
        self.session = session
        self.validated = validated
        self.plan = plan
        self.area_code = settings.default_area_code
        self.rules = ScheduleRules.from_settings(settings)
        self.progress = progress
        self.report = ImportReport(rows=validated.rows, warnings=list(validated.warnings))
        self.saved: dict[int, Customer] = {}
        self.errors: list[RowError] = []
        self.done = 0
        self.total = len(validated.customers) + len(validated.projects)

    def tick(self) -> None:
        self.done += 1
        if self.progress and (self.done % PROGRESS_EVERY == 0 or self.done == self.total):
            self.progress("import", self.done, self.total)

    def refused(self, row: int, exc: DomainError) -> None:
        headers = self.validated.headers
        for problem in exc.problems:
            name = (problem.field or "").split("[")[0]
            name = "phone" if name == "phones" else name
            self.errors.append(RowError(row, headers.get(name, problem.field), None,
                                        problem.message))

    async def customers(self) -> None:
        for entry in self.validated.customers:
            try:
                self.saved[id(entry)] = await self.customer(entry)
            except DomainError as exc:
                self.refused(entry.rows[0], exc)
            self.tick()

    async def customer(self, entry: CustomerEntry) -> Customer:
        current = self.plan.customer_of.get(id(entry))
        if current is None:
            self.report.customers_created += 1
            dnc = bool(entry.do_not_call)
            return await customers.create(
                self.session, name=entry.name, phones=[s.raw for s in entry.phones.values()],
                address=entry.address or "", grade=entry.grade or Grade.B,
                notes="\n".join(entry.notes), do_not_call=dnc,
                do_not_call_reason=(entry.do_not_call_reason or DEFAULT_DNC_REASON) if dnc
                else None, default_area_code=self.area_code)
        changes = _customer_changes(entry, current)
        if not changes:
            self.report.customers_unchanged += 1
            return current
        self.report.customers_updated += 1
        await customers.update(self.session, current, default_area_code=self.area_code,
                               **changes)
        if "grade" in changes:
            await callbacks.reprioritise_customer(self.session, current)
        return current

    async def projects(self) -> None:
        for project in self.validated.projects:
            customer = self.saved.get(id(project.customer))
            if customer is not None:
                try:
                    await self.project(project, customer)
                except DomainError as exc:
                    self.refused(project.row, exc)
            self.tick()

    async def project(self, project: ProjectEntry, customer: Customer) -> None:
        changes = dict(self.plan.project_changes[id(project)])
        current = self.plan.existing_projects.get(id(project))
        if current is None:
            changes.setdefault("address", project.fallback_address or customer.address)
            self.report.projects_created += 1
            await projects.create(self.session, customer=customer,
                                  contract_number=project.contract_number, rules=self.rules,
                                  **changes)
        elif changes:
            self.report.projects_updated += 1
            await projects.update(self.session, current, rules=self.rules, **changes)
        else:
            self.report.projects_unchanged += 1


def _customer_changes(entry: CustomerEntry, current: Customer) -> dict[str, Any]:
    """Only what the sheet gives and the database lacks: blanks never erase anything."""
    changes: dict[str, Any] = {}
    if entry.address is not None and entry.address != current.address:
        changes["address"] = entry.address
    if entry.grade is not None and entry.grade is not current.grade:
        changes["grade"] = entry.grade
    new_notes = [n for n in entry.notes if n not in current.notes]
    if new_notes:
        changes["notes"] = "\n".join([current.notes.rstrip(), *new_notes]).strip()
    if entry.do_not_call is not None and entry.do_not_call != current.do_not_call:
        changes["do_not_call"] = entry.do_not_call
        if entry.do_not_call and not current.do_not_call_reason:
            changes["do_not_call_reason"] = DEFAULT_DNC_REASON
    reason = entry.do_not_call_reason
    if reason is not None and reason != current.do_not_call_reason:
        changes["do_not_call_reason"] = reason
    known = {p.number for p in current.phones}
    added = [s.raw for number, s in entry.phones.items() if number not in known]
    if added:
        # Existing numbers are passed normalised: the service keeps their rows (and extensions).
        changes["phones"] = [p.number for p in current.phones] + added
    return changes


async def _write(session: AsyncSession, validated: ValidatedImport, plan: _Plan,
                 settings: Settings, progress: Progress | None) -> ImportReport:
    """Everything through the services; any refusal rejects the whole file (rolled back)."""
    before = await _count_tasks(session)
    writer = _Writer(session, validated, plan, settings, progress)
    await writer.customers()
    await writer.projects()
    if writer.errors:
        raise ImportRejected(writer.errors)
    writer.report.callback_tasks_created = await _count_tasks(session) - before
    return writer.report
