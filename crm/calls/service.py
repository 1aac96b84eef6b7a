"""Calls as stored: by id or by the PBX's linkedid, the ones still live, an agent's recent
calls with the customer's name, and the call a ticket is opened from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call
from crm.customers.models import Customer
from crm.errors import NotFound, ValidationError


@dataclass(frozen=True, slots=True)
class CallWithCustomer:
    """A call and the name of the customer it was with (None: an unknown caller)."""

    call: Call
    customer_name: str | None


@dataclass(frozen=True, slots=True)
class TicketOrigin:
    """Where a complaint or repair comes from: the call (if any) and whose ticket it is."""

    call: Call | None
    customer_id: int


async def get(session: AsyncSession, *, call_id: int) -> Call | None:
    """The call with this id, or None."""
    return await session.get(Call, call_id)


async def get_by_linkedid(session: AsyncSession, *, pbx_id: str, linkedid: str) -> Call | None:
    """The call a PBX knows by this linkedid (as a screen pop names it), or None."""
    return await session.scalar(
        select(Call).where(Call.pbx_id == pbx_id, Call.linkedid == linkedid)
    )


async def get_live(session: AsyncSession, *, pbx_id: str) -> list[Call]:
    """The PBX's calls stored as not ended yet."""
    return list(
        await session.scalars(select(Call).where(Call.pbx_id == pbx_id, Call.ended_at.is_(None)))
    )


def _with_customer(limit: int) -> Select[Call, str]:  # the name: None for unknown callers
    return (
        select(Call, Customer.name)
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .order_by(Call.started_at.desc())
        .limit(limit)
    )


async def recent_for_agent(
    session: AsyncSession, *, agent_id: int, limit: int
) -> list[CallWithCustomer]:
    """The agent's latest calls, newest first."""
    rows = await session.execute(_with_customer(limit).where(Call.agent_id == agent_id))
    return [CallWithCustomer(call, name) for call, name in rows.tuples()]


async def get_by_linkedids(
    session: AsyncSession, *, linkedids: Sequence[str], limit: int
) -> list[CallWithCustomer]:
    """The calls with these linkedids, newest first."""
    rows = await session.execute(_with_customer(limit).where(Call.linkedid.in_(linkedids)))
    return [CallWithCustomer(call, name) for call, name in rows.tuples()]


async def ticket_origin(
    session: AsyncSession,
    *,
    pbx_id: str,
    call_id: int | None,
    linkedid: str | None,
    customer_id: int | None,
    what: str,
) -> TicketOrigin:
    """The call a ticket (a `what`: complaint, repair) comes from, by id or by the linkedid
    the pop named, and the customer it is for: the one given, else the call's."""
    call = None
    if call_id is not None:
        call = await get(session, call_id=call_id)
    elif linkedid:
        call = await get_by_linkedid(session, pbx_id=pbx_id, linkedid=linkedid)
    if (call_id or linkedid) and call is None:
        raise NotFound("no such call", code="call_not_found", field="call_id")
    customer = customer_id or (call.customer_id if call else None)
    if customer is None:
        raise ValidationError(f"say whose {what} it is", code="required", field="customer_id")
    return TicketOrigin(call, customer)
