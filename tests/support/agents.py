"""Agents for tests: a user with an extension, made ready at a given moment when asked."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents import service as agent_states
from crm.agents.models import AgentStatus
from crm.users import service as users
from crm.users.models import Role

PASSWORD = "agent-password-1"


async def add_agent(
    session: AsyncSession,
    extension: str,
    *,
    username: str | None = None,
    display_name: str | None = None,
    ready_at: datetime | None = None,
) -> int:
    """An agent on `extension` (username `agent<extension>`, name 坐席<extension> unless
    given), Ready from `ready_at` when given, else logged out as a new agent is; its id."""
    user = await users.create(
        session,
        username=username or f"agent{extension}",
        password=PASSWORD,
        display_name=display_name or f"坐席{extension}",
        role=Role.AGENT,
        extension=extension,
    )
    if ready_at is not None:
        await agent_states.change(
            session, user_id=user.id, status=AgentStatus.READY, reason=None, at=ready_at
        )
    return user.id
