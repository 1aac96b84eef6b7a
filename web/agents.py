"""Routes for agent states: an agent's own, and all of them for supervisors."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from crm.agents import service as agent_states
from crm.agents.models import AgentStatus
from crm.users import service as users
from crm.users.models import Role
from web.agent_state_out import AgentStateOut
from web.agent_states import AgentStates
from web.auth import Caller, require
from web.errors import answers
from web.services import Services, services

router = APIRouter(prefix="/api", tags=["agents"])
agent_only = require(Role.AGENT)
supervisors = require(Role.SUPERVISOR, Role.ADMIN)
UNAVAILABLE = answers(503, "agent states are not available in this process")


class StateIn(BaseModel):
    status: AgentStatus
    reason: str | None = Field(None, max_length=32)


class AgentOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    extension: str | None
    status: AgentStatus
    reason: str | None
    since: str | None


def _states(svc: Services) -> AgentStates:
    if svc.agent_states is None:
        raise HTTPException(503, "agent states are not available")
    return svc.agent_states


@router.get("/agent/state", response_model=AgentStateOut, responses=UNAVAILABLE)
async def my_state(
    caller: Caller = Depends(agent_only), svc: Services = Depends(services)
) -> AgentStateOut:
    return await _states(svc).get(caller.id)


@router.put("/agent/state", response_model=AgentStateOut, responses=UNAVAILABLE)
async def set_my_state(
    body: StateIn, caller: Caller = Depends(agent_only), svc: Services = Depends(services)
) -> AgentStateOut:
    """Ready, paused (with a reason) or logged out; the PBX's queues follow."""
    return await _states(svc).change(caller.id, body.status, body.reason)


@router.get("/agents", response_model=list[AgentOut])
async def all_agents(
    _: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> list[AgentOut]:
    async with svc.database.session() as session:
        agents = await users.get_agents(session)
        states = {s.user_id: s for s in await agent_states.get_all(session)}
    out = []
    for user in agents:
        state = states.get(user.id)
        out.append(
            AgentOut(
                user_id=user.id,
                username=user.username,
                display_name=user.display_name,
                extension=user.extension,
                status=state.status if state else AgentStatus.LOGGED_OUT,
                reason=state.reason if state else None,
                since=state.since.isoformat() if state else None,
            )
        )
    return out
