"""Checking a whole sheet: every row checked, merged into customers and projects (no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crm.callbacks.schedule import StageDates
from crm.importer.checks import ParsedRow, RowChecker
from crm.importer.grouping import CustomerEntry, CustomerGrouper
from crm.importer.reading import SheetRows
from crm.importer.reporting import Progress, RowError, report_progress
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.settings import Settings


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


def validate(
    rows: SheetRows, *, settings: Settings, today: date, progress: Progress | None = None
) -> ValidatedImport | list[RowError]:
    """Every row checked and merged into customers and projects, or every problem found."""
    errors: list[RowError] = []
    checker = RowChecker(rows, settings, errors)
    grouper = CustomerGrouper(errors)
    grouped: list[ParsedRow] = []
    total = len(rows.rows)
    for done, raw in enumerate(rows.rows, start=1):
        parsed = checker.check(raw)
        if parsed.name and parsed.phones and grouper.add(parsed) is not None:
            grouped.append(parsed)
        report_progress(progress, "validate", done, total)
    project_entries = _projects(
        grouped, grouper.by_number, errors, rows.header("contract_number"), today
    )
    if errors:
        return errors
    return ValidatedImport(
        customers=grouper.entries,
        projects=project_entries,
        rows=total,
        headers=rows.headers,
        warnings=rows.warnings + grouper.warnings,
    )


def _projects(
    grouped: list[ParsedRow],
    entry_of_number: dict[str, CustomerEntry],
    errors: list[RowError],
    column: str,
    today: date,
) -> list[ProjectEntry]:
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
            errors.append(
                RowError(
                    row.number,
                    column,
                    row.contract_number,
                    f"contract number already on row {seen[key]}",
                    "duplicate_contract",
                    {"row": str(seen[key])},
                )
            )
            continue
        seen[key] = row.number
        status = row.status or projects.derive_status(StageDates.of_project(row.project), today)
        result.append(
            ProjectEntry(
                row=row.number,
                customer=entry,
                contract_number=row.contract_number,
                status=status,
                status_given=row.status is not None,
                values=row.project,
                fallback_address=row.customer["address"],
            )
        )
    return result
