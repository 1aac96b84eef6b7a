"""The customer card as it was read before issue 19 (one ORM statement per table): the oracle
the one-round-trip card (crm/customers/card_rows.py) is compared with, record for record."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.calls.models import Call
from crm.customers import cards
from crm.projects.models import Project
from crm.users import service as users


async def recent_calls(session: AsyncSession, customer_id: int) -> list[cards.CallCard]:
    calls = list(
        await session.scalars(
            select(Call)
            .where(Call.customer_id == customer_id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(10)
        )
    )
    names = await users.display_names(session, ids={c.agent_id for c in calls})
    return [
        cards.CallCard(
            id=c.id,
            started_at=c.started_at,
            direction=c.direction.value,
            outcome=c.outcome.value if c.outcome else None,
            queue=c.queue,
            agent_name=names.get(c.agent_id or 0),
            talk_seconds=c.talk_seconds,
        )
        for c in calls
    ]


async def card_of(
    session: AsyncSession, customer: cards.CustomerOnFile, *, today: date
) -> cards.CustomerCard:
    projects = list(
        await session.scalars(
            select(Project)
            .where(Project.customer_id == customer.id)
            .order_by(Project.contract_date.desc().nulls_last(), Project.id.desc())
        )
    )
    return cards.CustomerCard(
        **cards.summary(customer).model_dump(),
        notes=customer.notes,
        do_not_call_reason=customer.do_not_call_reason,
        projects=await cards.project_cards(session, projects, today=today),
        recent_calls=await recent_calls(session, customer.id),
    )
