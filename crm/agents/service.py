"""Agent states: the state an agent chose, its history, wrap-up after calls."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents.models import AgentState, AgentStateLog, AgentStatus
from crm.agents.states import PAUSE_REASONS, check_change
from crm.errors import ValidationError
from crm.one_of import one_of
from crm.users.models import User


async def get(session: AsyncSession, user_id: int, *, at: datetime) -> AgentState:
    """The agent's state; an agent never seen before is logged out. Two requests may create
    it at once (the page and its websocket): the loser reads the winner's row."""
    state = await session.get(AgentState, user_id)
    if state is not None:
        return state
    try:
        async with session.begin_nested():
            state = AgentState(user_id=user_id, status=AgentStatus.LOGGED_OUT, since=at)
            session.add(state)
    except IntegrityError:
        state = await session.get(AgentState, user_id, populate_existing=True)
        assert state is not None
    return state


async def get_many(
    session: AsyncSession, user_ids: Collection[int], *, at: datetime, beside: ScalarSelect[int]
) -> list[tuple[AgentState, int]]:
    """These agents' states by user id, each with `beside` (a count over the agent's rows,
    correlated to `AgentState.user_id`) read in the same statement: an agent's phone moving
    costs one trip to the database. Agents never seen before are made as `get` makes them."""
    wanted = sorted(set(user_ids))
    rows = await session.execute(
        select(AgentState, beside).where(one_of(AgentState.user_id, wanted))
    )
    found = {state.user_id: (state, count or 0) for state, count in rows}
    for user_id in wanted:
        if user_id not in found:
            state = await get(session, user_id, at=at)
            count = await session.scalar(select(beside).where(AgentState.user_id == user_id))
            found[user_id] = (state, count or 0)
    return [found[user_id] for user_id in wanted]


@dataclass(frozen=True, slots=True)
class AgentOnPhone:
    """A user with a softphone extension, and the state they are in."""

    user: User
    state: AgentState


async def get_all(session: AsyncSession) -> list[AgentState]:
    """Every stored agent state, by user id."""
    return list(await session.scalars(select(AgentState).order_by(AgentState.user_id)))


async def get_all_on_phones(session: AsyncSession) -> list[AgentOnPhone]:
    """The active users with an extension and a stored state: whom the PBX's queues follow."""
    rows = await session.execute(
        select(User, AgentState)
        .join(AgentState, AgentState.user_id == User.id)
        .where(User.extension.is_not(None), User.is_active.is_(True))
    )
    return [AgentOnPhone(user, state) for user, state in rows]


async def _enter(
    session: AsyncSession,
    state: AgentState,
    status: AgentStatus,
    reason: str | None,
    at: datetime,
    wrapup_until: datetime | None = None,
) -> None:
    await session.execute(
        update(AgentStateLog)
        .where(AgentStateLog.user_id == state.user_id, AgentStateLog.ended_at.is_(None))
        .values(ended_at=at)
    )
    state.status, state.reason, state.since, state.wrapup_until = status, reason, at, wrapup_until
    if status is not AgentStatus.LOGGED_OUT:
        session.add(
            AgentStateLog(user_id=state.user_id, status=status, reason=reason, started_at=at)
        )
    await session.flush()


async def change(
    session: AsyncSession,
    *,
    user_id: int,
    status: AgentStatus,
    reason: str | None,
    at: datetime,
    reasons: tuple[str, ...] = PAUSE_REASONS,
) -> AgentState:
    """The agent asks for a state; asking for the one they are in changes nothing."""
    problems = check_change(status, reason, reasons)
    if problems:
        raise ValidationError.of(problems)
    state = await get(session, user_id, at=at)
    if (state.status, state.reason) != (status, reason):
        await _enter(session, state, status, reason, at)
    return state


async def start_wrapup(
    session: AsyncSession, *, user_id: int, at: datetime, seconds: int
) -> AgentState | None:
    """After a call: a ready agent gets `seconds` of wrap-up; others are left as they are."""
    state = await get(session, user_id, at=at)
    if seconds <= 0 or state.status is not AgentStatus.READY:
        return None
    await _enter(
        session, state, AgentStatus.WRAPUP, None, at, wrapup_until=at + timedelta(seconds=seconds)
    )
    return state


async def expired_wrapups(session: AsyncSession, *, at: datetime) -> list[AgentState]:
    """Agents whose wrap-up time is over."""
    return list(
        await session.scalars(
            select(AgentState).where(
                AgentState.status == AgentStatus.WRAPUP, AgentState.wrapup_until <= at
            )
        )
    )


async def end_wrapups(session: AsyncSession, states: list[AgentState], *, at: datetime) -> None:
    """These agents' wrap-up is over: back to ready, from when its time ran out (or from
    `at` for a wrap-up that was held until the agent's calls were coded)."""
    for state in states:
        await _enter(session, state, AgentStatus.READY, None, state.wrapup_until or at)


async def hold_wrapups(session: AsyncSession, states: list[AgentState]) -> None:
    """Keep these agents in wrap-up past its time, until they have coded their calls (a
    wrap-up without an end: `wrapup_until` None)."""
    for state in states:
        state.wrapup_until = None
    await session.flush()


async def end_held_wrapup(
    session: AsyncSession, *, user_id: int, at: datetime
) -> AgentState | None:
    """The agent's wrap-up, held for their dispositions, ends now that they are coded; None
    when the agent is not in a held wrap-up."""
    state = await session.get(AgentState, user_id)
    if state is None or state.status is not AgentStatus.WRAPUP or state.wrapup_until is not None:
        return None
    await _enter(session, state, AgentStatus.READY, None, at)
    return state


async def end_expired_wrapups(session: AsyncSession, *, at: datetime) -> list[AgentState]:
    """Agents whose wrap-up time is over go back to ready."""
    expired = await expired_wrapups(session, at=at)
    await end_wrapups(session, expired, at=at)
    return expired


async def history(session: AsyncSession, *, user_id: int, since: datetime) -> list[AgentStateLog]:
    """The agent's periods in each state since an instant (for supervisors' reports)."""
    return list(
        await session.scalars(
            select(AgentStateLog)
            .where(
                AgentStateLog.user_id == user_id,
                (AgentStateLog.ended_at.is_(None)) | (AgentStateLog.ended_at >= since),
            )
            .order_by(AgentStateLog.started_at)
        )
    )
