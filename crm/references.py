"""Ids a request gives for another record (the call an attempt was made on, the manager a
complaint goes to …): looked up before they are stored, so a missing one is a 404 that names
the field, never a foreign-key error from the database."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from crm.db import Base
from crm.errors import NotFound

Row = TypeVar("Row", bound=Base)


async def referenced(
    session: AsyncSession, model: type[Row], row_id: int, *, field: str, what: str
) -> Row:
    """The record `field` names; NotFound (`<what>_not_found`, the field) when there is none."""
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound(f"no {what} {row_id}", code=f"{what}_not_found", field=field)
    return row
