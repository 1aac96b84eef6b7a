"""What complaint and repair endpoints share: the call a ticket was opened from, whose it is,
customers' names for the lists, and times as the pages read them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call
from crm.customers.models import Customer
from crm.errors import NotFound, ValidationError
from web.services import Services


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def origin(
    session: AsyncSession,
    svc: Services,
    *,
    call_id: int | None,
    linkedid: str | None,
    customer_id: int | None,
    what: str,
) -> tuple[Call | None, int]:
    """The call the ticket comes from (by id, or by the linkedid the pop named) and the
    customer it is for: the one given, else the call's."""
    call = None
    if call_id is not None:
        call = await session.get(Call, call_id)
    elif linkedid:
        call = await session.scalar(
            select(Call).where(Call.pbx_id == svc.settings.pbx_id, Call.linkedid == linkedid)
        )
    if (call_id or linkedid) and call is None:
        raise NotFound("no such call", code="call_not_found", field="call_id")
    customer = customer_id or (call.customer_id if call else None)
    if customer is None:
        raise ValidationError(f"say whose {what} it is", code="required", field="customer_id")
    return call, customer


async def customer_name(session: AsyncSession, customer_id: int) -> str:
    customer = await session.get(Customer, customer_id)
    return customer.name if customer else ""


async def customer_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    rows = await session.execute(
        select(Customer.id, Customer.name).where(Customer.id.in_(set(ids)))
    )
    return {row.id: row.name for row in rows}
