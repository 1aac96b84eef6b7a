"""Attaching a checked file to the database: which customer each is, what each project changes.

Pure: it works on what `lookup.Existing` found, and rejects the file when names or contracts
disagree with the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from crm.callbacks.schedule import StageDates, check_stage_dates
from crm.customers.models import Customer
from crm.importer.checks import PhoneSource, stage_params
from crm.importer.grouping import CustomerEntry
from crm.importer.lookup import Existing
from crm.importer.reporting import ImportRejected, RowError
from crm.importer.validation import ProjectEntry, ValidatedImport
from crm.importer.values import cell_text, name_key
from crm.projects import service as projects
from crm.projects.models import Project, ProjectStatus


@dataclass(slots=True)
class Plan:
    """Which existing customer each file customer is, and what changes each project gets."""

    customer_of: dict[int, Customer] = field(default_factory=dict)  # id(entry) → existing
    project_changes: dict[int, dict[str, Any]] = field(default_factory=dict)  # id(project)
    existing_projects: dict[int, Project] = field(default_factory=dict)  # id(project) → row
    errors: list[RowError] = field(default_factory=list)


def resolve(validated: ValidatedImport, existing: Existing, today: date) -> Plan:
    """Attach the file to the database; ImportRejected if names or contracts disagree."""
    plan = Plan()
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
            plan.project_changes[id(project)] = {
                **_service_fields(project.values),
                "status": project.status,
            }
        elif owner is None or owner.id != current.customer_id:
            plan.errors.append(
                RowError(
                    project.row,
                    contract_column,
                    project.contract_number,
                    f"this contract belongs to {current.customer.name} (customer "
                    f"#{current.customer_id}) in the database, not to {project.customer.name}",
                    "contract_of_other_customer",
                    {
                        "owner": current.customer.name,
                        "id": str(current.customer_id),
                        "name": project.customer.name,
                    },
                )
            )
        else:
            plan.existing_projects[id(project)] = current
            plan.project_changes[id(project)] = _project_update(
                project, current, today, plan.errors, validated.headers
            )
    if plan.errors:
        raise ImportRejected(plan.errors)
    return plan


def _match_customer(
    entry: CustomerEntry,
    entry_projects: list[ProjectEntry],
    existing: Existing,
    errors: list[RowError],
) -> Customer | None:
    """The existing customer having one of the entry's numbers (or, failing that, its contract)."""
    owners: dict[int, PhoneSource] = {}
    for number, source in entry.phones.items():
        for customer_id in sorted(existing.owners_of_number.get(number, ())):
            owners.setdefault(customer_id, source)
    if not owners:
        by_contract = {
            existing.projects[p.contract_number].customer_id
            for p in entry_projects
            if p.contract_number in existing.projects
        }
        customer = existing.customers[by_contract.pop()] if len(by_contract) == 1 else None
        if customer is not None and name_key(customer.name) == name_key(entry.name):
            return customer  # a known customer whose phone number changed
        return None
    found = [(existing.customers[i], source) for i, source in owners.items()]
    if len(found) > 1:
        names = ", ".join(f"{c.name} (#{c.id})" for c, _ in found)
        source = found[1][1]
        errors.append(
            RowError(
                source.row,
                source.column,
                source.raw,
                f"{entry.name}'s numbers belong to different customers in the database: {names}",
                "numbers_of_several_customers",
                {"names": names, "name": entry.name},
            )
        )
        return None
    customer, source = found[0]
    if name_key(customer.name) != name_key(entry.name):
        errors.append(
            RowError(
                source.row,
                source.column,
                source.raw,
                f"this number belongs to {customer.name} (customer "
                f"#{customer.id}) in the database, not to {entry.name}",
                "number_of_other_customer",
                {"owner": customer.name, "id": str(customer.id), "name": entry.name},
            )
        )
        return None
    return customer


def _service_fields(values: dict[str, Any]) -> dict[str, Any]:
    """The sheet's project columns under the project service's names."""
    return {("address" if k == "project_address" else k): v for k, v in values.items()}


def _project_update(
    project: ProjectEntry,
    current: Project,
    today: date,
    errors: list[RowError],
    headers: dict[str, str],
) -> dict[str, Any]:
    """The changes a row brings to an existing project, checked against its merged dates."""
    given = _service_fields(project.values)
    merged = {name: getattr(current, name) for name in projects.DATE_FIELDS} | given
    dates = StageDates.of_project(merged)
    status = project.status
    if not project.status_given:
        keep_cancelled = current.status is ProjectStatus.CANCELLED
        status = ProjectStatus.CANCELLED if keep_cancelled else projects.derive_status(dates, today)
    for problem in check_stage_dates(dates, status):
        name = problem.field or "status"
        value = merged.get(name)
        errors.append(
            RowError(
                project.row,
                headers.get(name, name),
                None if value is None else cell_text(value),
                f"{problem.message} (with the dates already in the database)",
                f"db_{problem.code}",  # db_stage_dates_out_of_order, db_completion_date_required
                stage_params(problem.params, headers),
            )
        )
    changes = {k: v for k, v in given.items() if getattr(current, k) != v}
    if status is not current.status:
        changes["status"] = status
    return changes
