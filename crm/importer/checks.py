"""Checking one row's cells: its parsed values, and a RowError for each bad cell."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from crm.callbacks.schedule import StageDates, check_stage_dates
from crm.customers import service as customers
from crm.importer.columns import PROJECT_TEXT
from crm.importer.problems import CellError
from crm.importer.reading import RawRow, SheetRows
from crm.importer.reporting import RowError
from crm.importer.values import cell_text, parse_bool, parse_date, parse_grade, parse_status
from crm.phones import split_phone_list
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.settings import Settings


@dataclass(frozen=True, slots=True)
class PhoneSource:
    row: int
    column: str
    raw: str  # as written, what the service stores as `raw`


@dataclass(slots=True)
class ParsedRow:
    """One row's parsed cells, before rows are merged into customers."""

    number: int
    name: str
    phones: dict[str, PhoneSource]
    customer: dict[str, Any]
    contract_number: str
    status: ProjectStatus | None
    project: dict[str, Any]


class RowChecker:
    """Parses one raw row's cells, collecting a RowError for each bad one."""

    def __init__(self, sheet: SheetRows, settings: Settings, errors: list[RowError]) -> None:
        self.sheet = sheet
        self.area_code = settings.default_area_code
        self.errors = errors

    def error(
        self,
        row: RawRow,
        name: str | None,
        value: Any,
        reason: str,
        code: str,
        params: dict[str, str] | None = None,
    ) -> None:
        column = None if name is None else self.sheet.header(name)
        text = None if value is None else cell_text(value)
        self.errors.append(RowError(row.number, column, text, reason, code, params or {}))

    def parse(self, row: RawRow, name: str, parser: Callable[[Any], Any]) -> Any:
        try:
            return parser(row.values.get(name))
        except CellError as exc:
            self.error(row, name, row.values.get(name), str(exc), exc.code, exc.params)
            return None

    def check(self, row: RawRow) -> ParsedRow:
        before = len(self.errors)
        name = cell_text(row.values.get("name"))
        if not name:
            self.error(row, "name", None, "the customer's name is required", "name_required")
        contract_number = cell_text(row.values.get("contract_number"))
        parsed = ParsedRow(
            number=row.number,
            name=name,
            phones=self.phones(row),
            customer=self.customer_fields(row),
            contract_number=unicodedata.normalize("NFKC", contract_number),
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
                numbers, problems = customers.parse_phones([item], default_area_code=self.area_code)
                for problem in problems:
                    self.errors.append(
                        RowError(
                            row.number,
                            header,
                            cell_text(item),
                            problem.message,
                            problem.code,  # invalid_phone, not_a_customer_phone
                            dict(problem.params or {}),
                        )
                    )
                for phone, raw in numbers:
                    found.setdefault(phone.number, PhoneSource(row.number, header, raw))
        if not found and not any(cell is not None for _, cell in row.phones):
            self.error(
                row, "phone", None, "at least one phone number is required", "phone_required"
            )
        return found

    def customer_fields(self, row: RawRow) -> dict[str, Any]:
        values = {
            name: cell_text(row.values.get(name)) or None
            for name in ("address", "notes", "do_not_call_reason")
        }
        values["grade"] = self.parse(row, "grade", parse_grade)
        values["do_not_call"] = self.parse(row, "do_not_call", parse_bool)
        return values

    def project_fields(self, row: RawRow) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("project_address", *PROJECT_TEXT):
            if text := cell_text(row.values.get(name)):
                values[name] = text
        for name in projects.DATE_FIELDS:
            day = self.parse(row, name, parse_date)
            if day is not None:
                values[name] = day
        return values

    def check_project(self, row: RawRow, parsed: ParsedRow) -> None:
        """The services' own stage-date rules, and no project details without a contract."""
        if not parsed.contract_number:
            if parsed.project or parsed.status is not None:
                given = next(iter(parsed.project), "status")
                self.error(
                    row,
                    "contract_number",
                    None,
                    f"the row has project details ({self.sheet.header(given)}) but no "
                    "contract number",
                    "project_without_contract",
                    {"column": self.sheet.header(given)},
                )
            return
        dates = StageDates.of_project(parsed.project)
        for problem in check_stage_dates(dates, parsed.status):
            name = problem.field or "status"
            self.error(
                row,
                name,
                parsed.project.get(name),
                problem.message,
                problem.code,  # stage_dates_out_of_order, completion_date_required
                stage_params(problem.params, self.sheet.headers),
            )


def _phone_items(cell: Any) -> list[str]:
    """The numbers in one phone cell: text may hold several; Excel numbers are one each."""
    if cell is None:
        return []
    if isinstance(cell, str):
        return split_phone_list(cell)
    return [cell_text(cell)]


def stage_params(params: Mapping[str, str] | None, headers: dict[str, str]) -> dict[str, str]:
    """A stage-date problem's params, naming the earlier date by its column as written."""
    shown = dict(params or {})
    if "earlier_field" in shown:
        earlier = shown.pop("earlier_field")
        shown["earlier_column"] = headers.get(earlier, earlier)
    return shown
