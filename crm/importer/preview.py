"""What a checked sheet looks like to the person importing it: every row with its values and
its problems, the counts, and what the import would create or change."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crm.importer.checking import CheckedSheet
from crm.importer.reporting import RowError
from crm.importer.values import cell_text


@dataclass(slots=True)
class PreviewRow:
    row: int  # the spreadsheet's row number
    values: dict[str, str]  # header as written → the cell as text
    problems: list[RowError] = field(default_factory=list)


@dataclass(slots=True)
class ImportPreview:
    columns: list[str]  # the headers the import reads, as written, in the file's order
    rows: list[PreviewRow]
    file_problems: list[RowError]  # problems of the file as a whole (its header row)
    ok_rows: int
    bad_rows: int
    warnings: list[str]
    customers_new: int = 0
    customers_updated: int = 0
    projects_new: int = 0
    projects_updated: int = 0

    @property
    def committable(self) -> bool:
        return not self.bad_rows and not self.file_problems and bool(self.rows)

    def as_json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["committable"] = self.committable
        return shown


def preview_of(checked: CheckedSheet) -> ImportPreview:
    """Every row, in the file's order, with the problems found on it."""
    from crm.importer.writing import customer_changes  # writing builds on checking

    sheet = checked.sheet
    by_row: dict[int, list[RowError]] = {}
    file_problems: list[RowError] = []
    for error in checked.errors:
        if error.row <= sheet.header_row:
            file_problems.append(error)
        else:
            by_row.setdefault(error.row, []).append(error)
    rows = []
    for raw in sheet.rows:
        values = {sheet.header(name): cell_text(cell) for name, cell in raw.values.items()}
        values |= {header: cell_text(cell) for header, cell in raw.phones}
        rows.append(PreviewRow(raw.number, values, by_row.pop(raw.number, [])))
    for number, problems in sorted(by_row.items()):  # a row the reader dropped: still shown
        rows.append(PreviewRow(number, {}, problems))
    bad = sum(1 for r in rows if r.problems)
    preview = ImportPreview(
        columns=list(sheet.columns),
        rows=rows,
        file_problems=file_problems,
        ok_rows=len(rows) - bad,
        bad_rows=bad,
        warnings=list(checked.warnings),
    )
    validated, plan = checked.validated, checked.plan
    if validated is not None and plan is not None:
        for entry in validated.customers:
            current = plan.customer_of.get(id(entry))
            if current is None:
                preview.customers_new += 1
            elif customer_changes(entry, current):
                preview.customers_updated += 1
        for project in validated.projects:
            if id(project) not in plan.existing_projects:
                preview.projects_new += 1
            elif plan.project_changes.get(id(project)):
                preview.projects_updated += 1
    return preview
