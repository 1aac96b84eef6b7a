"""What the database already holds for a file's phone and contract numbers, looked up in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from crm.customers.models import Customer, Phone
from crm.importer.reporting import Progress
from crm.importer.validation import ValidatedImport
from crm.one_of import one_of
from crm.projects.models import Project

LOOKUP_CHUNK = 500

_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = LOOKUP_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(slots=True)
class Existing:
    """What the database already holds for the file's phone and contract numbers."""

    owners_of_number: dict[str, set[int]]
    customers: dict[int, Customer]
    projects: dict[str, Project]

    @classmethod
    async def load(
        cls, session: AsyncSession, validated: ValidatedImport, progress: Progress | None
    ) -> Existing:
        """Batch look-ups, a few hundred numbers per query, never one query per row."""
        numbers = sorted({n for entry in validated.customers for n in entry.phones})
        contracts = sorted({p.contract_number for p in validated.projects})
        total = len(numbers) + len(contracts)

        def report(done: int) -> None:
            if progress:
                progress("check", done, total)

        owners = await _phone_owners(session, numbers, report)
        projects_found = await _projects_by_contract(
            session, contracts, lambda done: report(len(numbers) + done)
        )
        ids = {i for found in owners.values() for i in found}
        ids |= {p.customer_id for p in projects_found.values()}
        return cls(owners, await _customers_by_id(session, sorted(ids)), projects_found)


async def _phone_owners(
    session: AsyncSession, numbers: Sequence[str], report: Callable[[int], None]
) -> dict[str, set[int]]:
    """Normalised number → ids of the customers having it."""
    owners: dict[str, set[int]] = {}
    done = 0
    for chunk in _chunks(numbers):
        rows = await session.execute(
            select(Phone.number, Phone.customer_id).where(one_of(Phone.number, chunk))
        )
        for number, customer_id in rows:
            owners.setdefault(number, set()).add(customer_id)
        done += len(chunk)
        report(done)
    return owners


async def _projects_by_contract(
    session: AsyncSession, contracts: Sequence[str], report: Callable[[int], None]
) -> dict[str, Project]:
    """Contract number → existing project, with its customer loaded (for error messages)."""
    found: dict[str, Project] = {}
    done = 0
    for chunk in _chunks(contracts):
        query = (
            select(Project)
            .where(one_of(Project.contract_number, chunk))
            .options(selectinload(Project.customer))
        )
        found.update((p.contract_number, p) for p in await session.scalars(query))
        done += len(chunk)
        report(done)
    return found


async def _customers_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Customer]:
    found: dict[int, Customer] = {}
    for chunk in _chunks(ids):
        query = (
            select(Customer)
            .where(one_of(Customer.id, chunk))
            .options(selectinload(Customer.phones))
        )
        found.update((c.id, c) for c in await session.scalars(query))
    return found
