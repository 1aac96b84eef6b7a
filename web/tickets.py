"""What complaint and repair endpoints share: the call a ticket was opened from, the audit
entries of what was done to it, customers' names for the lists."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from crm.audit import service as audit
from crm.calls import service as calls
from crm.calls.service import TicketOrigin
from crm.customers import service as customers
from web.services import Services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from web.auth import Caller


class Source(Protocol):
    """What a new ticket's body says about where it comes from."""

    @property
    def call_id(self) -> int | None: ...
    @property
    def linkedid(self) -> str | None: ...
    @property
    def customer_id(self) -> int | None: ...


async def origin(session: AsyncSession, svc: Services, body: Source, *, what: str) -> TicketOrigin:
    """The call the ticket comes from (on this PBX, when the pop's linkedid names it) and
    the customer it is for."""
    return await calls.ticket_origin(
        session,
        pbx_id=svc.settings.pbx_id,
        call_id=body.call_id,
        linkedid=body.linkedid,
        customer_id=body.customer_id,
        what=what,
    )


async def record_by(
    session: AsyncSession,
    caller: Caller,
    *,
    what: str,
    ticket_id: int,
    action: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """The audit entry for what the caller did to a ticket (a complaint or a repair)."""
    await audit.record(
        session,
        actor=caller.user.username,
        user_id=caller.id,
        action=action,
        entity_type=what,
        entity_id=ticket_id,
        at=at,
        detail=detail,
    )


async def customer_name(session: AsyncSession, customer_id: int) -> str:
    """The customer's name, or "" when there is no such customer."""
    return (await customers.names(session, ids=(customer_id,))).get(customer_id, "")
