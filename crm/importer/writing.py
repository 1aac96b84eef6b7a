"""The import itself: one transaction, everything written through the customer and project services.

Going through the services plans the callback tasks exactly as for a hand-entered project; any
refusal rejects the whole file and the transaction is rolled back.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import CallbackTask
from crm.callbacks.schedule import ScheduleRules
from crm.customers import service as customers
from crm.customers.models import Customer, Grade
from crm.db import Database
from crm.errors import DomainError
from crm.importer.checking import check_sheet
from crm.importer.grouping import CustomerEntry
from crm.importer.planning import Plan
from crm.importer.reading import SheetRows, read_rows
from crm.importer.reporting import (
    ImportRejected,
    ImportReport,
    Progress,
    RowError,
    report_progress,
)
from crm.importer.validation import ProjectEntry, ValidatedImport
from crm.projects import service as projects
from crm.projects.models import Project
from crm.settings import Settings

DEFAULT_DNC_REASON = "导入表格标记为免打扰"
WRITE_CHUNK = 500  # new rows inserted together: a few batched statements, not a flush a row


async def import_file(
    database: Database,
    path: str | Path,
    *,
    settings: Settings,
    today: date,
    progress: Progress | None = None,
) -> ImportReport:
    """Read, check and import a spreadsheet; ImportRejected (nothing written) on any bad row.

    `progress(phase, done, total)` is called as the work advances, phases being "read",
    "validate", "check" (looking the file's numbers up in the database) and "import".
    """
    sheet = read_rows(path)
    if progress:
        progress("read", len(sheet.rows), len(sheet.rows))
    async with database.session() as session:
        return await import_sheet(session, sheet, settings=settings, today=today, progress=progress)


class StalePreview(Exception):
    """The database changed since the file was previewed: importing now would do something
    else than the preview said (nothing was written)."""


async def import_sheet(
    session: AsyncSession,
    sheet: SheetRows,
    *,
    settings: Settings,
    today: date,
    progress: Progress | None = None,
    previewed: str | None = None,
) -> ImportReport:
    """Check the sheet again, inside the caller's transaction, and write it all; raises
    ImportRejected on any problem, and StalePreview when `previewed` (a preview's
    fingerprint) is not what the import would do now. The caller's transaction rolls back
    on either, so nothing is half-written."""
    checked = await check_sheet(session, sheet, settings=settings, today=today, progress=progress)
    if checked.errors:
        raise ImportRejected(checked.errors)
    assert checked.validated is not None and checked.plan is not None
    if previewed is not None and checked.fingerprint() != previewed:
        raise StalePreview()
    return await _write(session, checked.validated, checked.plan, settings, progress)


async def _count_tasks(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CallbackTask)) or 0)


class _Writer:
    """Writes the resolved file through the services, turning their refusals into RowErrors."""

    def __init__(
        self,
        session: AsyncSession,
        validated: ValidatedImport,
        plan: Plan,
        settings: Settings,
        progress: Progress | None,
    ) -> None:
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
        report_progress(self.progress, "import", self.done, self.total)

    def refused(self, row: int, exc: DomainError) -> None:
        headers = self.validated.headers
        for problem in exc.problems:
            name = (problem.field or "").split("[")[0]
            name = "phone" if name == "phones" else name
            self.errors.append(
                RowError(
                    row,
                    headers.get(name, problem.field),
                    None,
                    problem.message,
                    "refused",
                    {"message": problem.message},
                )
            )

    async def customers(self) -> None:
        """New customers are inserted a chunk at a time; changed ones through `update`."""
        pending: list[Customer] = []
        for entry in self.validated.customers:
            try:
                customer = self.customer(entry)
                if customer is None:
                    customer = await self.changed_customer(entry)
                else:
                    pending.append(customer)
                self.saved[id(entry)] = customer
            except DomainError as exc:
                self.refused(entry.rows[0], exc)
            if len(pending) >= WRITE_CHUNK:
                await customers.add_customers(self.session, pending)
                pending = []
            self.tick()
        await customers.add_customers(self.session, pending)

    def customer(self, entry: CustomerEntry) -> Customer | None:
        """A new customer's row (not yet written), or None for one the database has."""
        if self.plan.customer_of.get(id(entry)) is not None:
            return None
        # The service keeps the reason only for a do-not-call customer.
        customer = customers.new_customer(
            name=entry.name,
            phones=[s.raw for s in entry.phones.values()],
            address=entry.address or "",
            grade=entry.grade or Grade.B,
            notes="\n".join(entry.notes),
            do_not_call=bool(entry.do_not_call),
            do_not_call_reason=entry.do_not_call_reason or DEFAULT_DNC_REASON,
            default_area_code=self.area_code,
        )
        self.report.customers_created += 1
        return customer

    async def changed_customer(self, entry: CustomerEntry) -> Customer:
        current = self.plan.customer_of[id(entry)]
        changes = customer_changes(entry, current)
        if not changes:
            self.report.customers_unchanged += 1
            return current
        self.report.customers_updated += 1
        await customers.update(self.session, current, default_area_code=self.area_code, **changes)
        return current

    async def projects(self) -> None:
        """New projects (and their callbacks) a chunk at a time; changed ones one by one."""
        pending: list[tuple[Project, Grade]] = []
        rows: dict[str, int] = {}
        for project in self.validated.projects:
            customer = self.saved.get(id(project.customer))
            if customer is not None:
                try:
                    new = await self.project(project, customer)
                    if new is not None:
                        pending.append((new, customer.grade))
                        rows[new.contract_number] = project.row
                except DomainError as exc:
                    self.refused(project.row, exc)
            if len(pending) >= WRITE_CHUNK:
                await self.add_projects(pending, rows)
                pending = []
            self.tick()
        await self.add_projects(pending, rows)

    async def add_projects(
        self, pending: list[tuple[Project, Grade]], rows: dict[str, int]
    ) -> None:
        if not pending:
            return
        try:
            await projects.add_projects(self.session, pending, rules=self.rules)
        except projects.ContractTaken as exc:  # taken since the check: the file is refused
            self.refused(rows[exc.contract_number], exc)

    async def project(self, project: ProjectEntry, customer: Customer) -> Project | None:
        """A new project's row (written later, with others), or None once an existing one
        is brought up to date."""
        changes = dict(self.plan.project_changes[id(project)])
        current = self.plan.existing_projects.get(id(project))
        if current is None:
            changes.setdefault("address", project.fallback_address or customer.address)
            new = projects.new_project(
                customer=customer, contract_number=project.contract_number, **changes
            )
            self.report.projects_created += 1
            return new
        if changes:
            self.report.projects_updated += 1
            await projects.update(self.session, current, rules=self.rules, **changes)
        else:
            self.report.projects_unchanged += 1
        return None


def customer_changes(entry: CustomerEntry, current: Customer) -> dict[str, Any]:
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


async def _write(
    session: AsyncSession,
    validated: ValidatedImport,
    plan: Plan,
    settings: Settings,
    progress: Progress | None,
) -> ImportReport:
    """Everything through the services; any refusal rejects the whole file (rolled back)."""
    before = await _count_tasks(session)
    writer = _Writer(session, validated, plan, settings, progress)
    await writer.customers()
    await writer.projects()
    if writer.errors:
        raise ImportRejected(writer.errors)
    writer.report.callback_tasks_created = await _count_tasks(session) - before
    return writer.report
