"""Checking a read sheet, all of it: the rows on their own, then against the database.

The one path every import takes, the command line's and the browser's alike: `check_sheet`
finds every problem the import would refuse, and the plan it would carry out, without writing
anything; `writing.import_sheet` runs it again inside its own transaction before it writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm.importer.lookup import Existing
from crm.importer.planning import Plan, resolve
from crm.importer.reading import SheetRows
from crm.importer.reporting import ImportRejected, Progress, RowError
from crm.importer.validation import ValidatedImport, validate
from crm.importer.values import cell_text
from crm.settings import Settings


@dataclass(slots=True)
class CheckedSheet:
    """A sheet checked: every problem (none: `validated` and `plan` say what to write)."""

    sheet: SheetRows
    errors: list[RowError]
    validated: ValidatedImport | None = None
    plan: Plan | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.plan is not None

    def fingerprint(self) -> str:
        """What importing would do, as a digest: a preview whose database has moved on since
        (a number now someone else's, a contract updated) no longer matches the commit."""
        return fingerprint(self)


async def check_sheet(
    session: AsyncSession,
    sheet: SheetRows,
    *,
    settings: Settings,
    today: date,
    progress: Progress | None = None,
) -> CheckedSheet:
    """Every row checked on its own (in a worker thread: a large sheet is seconds of work),
    then, if they all pass, against what the database holds; nothing is written."""
    validated = await asyncio.to_thread(
        validate, sheet, settings=settings, today=today, progress=progress
    )
    if isinstance(validated, list):
        return CheckedSheet(sheet, sorted(validated, key=_order), warnings=list(sheet.warnings))
    existing = await Existing.load(session, validated, progress)
    try:
        plan = resolve(validated, existing, today)
    except ImportRejected as rejected:
        return CheckedSheet(sheet, rejected.errors, validated, warnings=validated.warnings)
    return CheckedSheet(sheet, [], validated, plan, warnings=validated.warnings)


def _order(error: RowError) -> tuple[int, str]:
    return (error.row, error.column or "")


def fingerprint(checked: CheckedSheet) -> str:
    """A digest of the plan: which existing customer and project each row meets, and the
    changes it brings them (see `writing.customer_changes` for a customer's)."""
    from crm.importer.writing import customer_changes  # writing builds on this module

    validated, plan = checked.validated, checked.plan
    if validated is None or plan is None:
        return ""
    parts: list[Any] = []
    for entry in validated.customers:
        current = plan.customer_of.get(id(entry))
        changes = {} if current is None else customer_changes(entry, current)
        parts.append(["customer", entry.rows, current and current.id, _plain(changes)])
    for project in validated.projects:
        current_project = plan.existing_projects.get(id(project))
        parts.append(
            [
                "project",
                project.row,
                current_project and current_project.id,
                _plain(plan.project_changes.get(id(project), {})),
            ]
        )
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(values: dict[str, Any]) -> dict[str, str]:
    return {k: cell_text(getattr(v, "value", v)) for k, v in sorted(values.items())}
