"""What complaint and repair endpoints share: the call a ticket was opened from, customers'
names for the lists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm.calls import service as calls
from crm.calls.service import TicketOrigin
from crm.customers import service as customers
from web.services import Services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


async def origin(
    session: AsyncSession,
    svc: Services,
    *,
    call_id: int | None,
    linkedid: str | None,
    customer_id: int | None,
    what: str,
) -> TicketOrigin:
    """The call the ticket comes from (on this PBX, when the pop's linkedid names it) and
    the customer it is for."""
    return await calls.ticket_origin(
        session,
        pbx_id=svc.settings.pbx_id,
        call_id=call_id,
        linkedid=linkedid,
        customer_id=customer_id,
        what=what,
    )


async def customer_name(session: AsyncSession, customer_id: int) -> str:
    """The customer's name, or "" when there is no such customer."""
    return (await customers.names(session, ids=(customer_id,))).get(customer_id, "")
