"""What complaint and repair endpoints share: where a new ticket comes from (its body's
fields, the call it was opened on), the audit entries of what was done to it, customers' names."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.calls import service as calls
from crm.calls.service import TicketOrigin
from crm.customers import service as customers
from web.params import Id
from web.services import Services

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from web.auth import Caller


class TicketIn(BaseModel):
    """Where a new ticket (a complaint, a repair) comes from: the customer and their project,
    and the call it is opened on, if any."""

    customer_id: Id | None = None  # may come from the call
    project_id: Id | None = None
    call_id: Id | None = None
    linkedid: str | None = Field(None, max_length=64)  # the call, as the pop named it


async def origin(
    session: AsyncSession, svc: Services, body: TicketIn, *, what: str
) -> TicketOrigin:
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
