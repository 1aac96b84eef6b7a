"""Coding calls in wrap-up: the disposition of a call, the calls an agent has yet to code, and
the counts the reports and the QA list read."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ColumnElement, ColumnExpressionArgument, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.agents import service as agent_states
from crm.agents.models import AgentState
from crm.calls.models import Call, Direction
from crm.customers.models import Customer
from crm.dispositions.codes import DispositionCodes
from crm.dispositions.models import CallDisposition
from crm.errors import Conflict, Forbidden, NotFound, Problem, ValidationError
from crm.one_of import one_of
from crm.projects.models import Project
from crm.references import referenced

MAX_NOTE = 2000


class CallToCode(BaseModel):
    """An answered call of the agent's that has no disposition yet (the console's answer as
    it is)."""

    model_config = ConfigDict(frozen=True)

    call_id: int
    linkedid: str
    direction: Direction
    started_at: datetime
    ended_at: datetime | None
    customer_id: int | None
    customer_name: str | None
    customer_number: str | None


async def get_for_call(session: AsyncSession, *, call_id: int) -> CallDisposition | None:
    """The call's disposition, if it was coded."""
    return await session.scalar(select(CallDisposition).where(CallDisposition.call_id == call_id))


async def for_calls(session: AsyncSession, *, call_ids: Iterable[int]) -> dict[int, str]:
    """Call → its disposition code, for the calls that have one."""
    ids = list(set(call_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(CallDisposition.call_id, CallDisposition.code).where(
            one_of(CallDisposition.call_id, ids)
        )
    )
    return {call_id: code for call_id, code in rows}  # noqa: C416 - a Result


def _uncoded(agents: ColumnElement[bool], since: datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions of an answered call, ended since `since`, of the agents `agents`
    picks, not coded."""
    return (
        agents,
        Call.answered_at.is_not(None),
        Call.ended_at.is_not(None),
        Call.ended_at >= since,
        ~select(CallDisposition.id).where(CallDisposition.call_id == Call.id).exists(),
    )


async def owed(
    session: AsyncSession, *, agent_id: int, since: datetime, limit: int = 20
) -> list[CallToCode]:
    """The agent's answered calls ended since `since` that still need a disposition, the
    oldest first (the order they are coded in)."""
    rows = await session.execute(
        select(Call, Customer.name)
        .outerjoin(Customer, Customer.id == Call.customer_id)
        .where(*_uncoded(Call.agent_id == agent_id, since))
        .order_by(Call.ended_at, Call.id)
        .limit(limit)
    )
    return [
        CallToCode(
            call_id=call.id,
            linkedid=call.linkedid,
            direction=call.direction,
            started_at=call.started_at,
            ended_at=call.ended_at,
            customer_id=call.customer_id,
            customer_name=name,
            customer_number=call.customer_number,
        )
        for call, name in rows
    ]


def owed_count(
    agent_id: ColumnExpressionArgument[int] | int, *, since: datetime
) -> ScalarSelect[int]:
    """How many calls since `since` still need a disposition, for this agent, or for the
    agent a column of the enclosing query names (read in the same statement as the agent's
    state)."""
    return (
        select(func.count())
        .select_from(Call)
        .where(*_uncoded(Call.agent_id == agent_id, since))
        .scalar_subquery()
    )


async def states_with_owed(
    session: AsyncSession, user_ids: Collection[int], *, at: datetime, since: datetime
) -> list[tuple[AgentState, int]]:
    """These agents' states by user id, each with how many of their calls since `since`
    still need a disposition: one statement however many agents (a phone event's push)."""
    owed = owed_count(AgentState.user_id, since=since)
    return await agent_states.get_many(session, user_ids, at=at, beside=owed)


async def count_owed(session: AsyncSession, *, agent_id: int, since: datetime) -> int:
    """How many of the agent's calls since `since` still need a disposition."""
    return await session.scalar(select(owed_count(agent_id, since=since))) or 0


async def owing_agents(
    session: AsyncSession, *, agent_ids: Collection[int], since: datetime
) -> set[int]:
    """Those of these agents who have a call since `since` still to code."""
    if not agent_ids:
        return set()
    rows = await session.scalars(
        select(Call.agent_id)
        .where(*_uncoded(one_of(Call.agent_id, list(agent_ids)), since))
        .distinct()
    )
    return {agent_id for agent_id in rows if agent_id is not None}


async def check_may_go_ready(session: AsyncSession, *, agent_id: int, since: datetime) -> None:
    """Conflict (409) while the agent has a call to code (when a disposition is required)."""
    count = await count_owed(session, agent_id=agent_id, since=since)
    if count:
        raise Conflict(
            f"code your last call{'s' if count > 1 else ''} first: a disposition is required "
            f"before you go ready ({count} to code)",
            code="disposition_required",
            field="status",
        )


async def _linked(
    session: AsyncSession, call: Call, customer_id: int | None, project_id: int | None
) -> tuple[int | None, int | None]:
    """The customer and project the call is about: a call already linked to a customer keeps
    them; a project must be that customer's."""
    project = (
        await referenced(session, Project, project_id, field="project_id", what="project")
        if project_id is not None
        else None
    )
    if customer_id is not None:
        await referenced(session, Customer, customer_id, field="customer_id", what="customer")
    customer = customer_id or (project.customer_id if project else None)
    if call.customer_id is not None and customer not in (None, call.customer_id):
        raise ValidationError(
            "this call is already linked to its caller's customer record",
            code="call_has_customer",
            field="customer_id",
        )
    customer = call.customer_id or customer
    if project is not None and project.customer_id != customer:
        raise ValidationError(
            "the project is not this customer's", code="project_not_customers", field="project_id"
        )
    return customer, project.id if project else None


async def code_call(
    session: AsyncSession,
    *,
    call_id: int,
    agent_id: int,
    own_calls_only: bool,
    code: str,
    note: str,
    customer_id: int | None,
    project_id: int | None,
    codes: DispositionCodes,
    at: datetime,
) -> CallDisposition:
    """Code an answered call (or correct its code): one of the configured codes, a note, and,
    for a caller not known by their number, the customer (and project) it was about, which
    the call is then linked to. `own_calls_only`: an agent codes only the calls they took."""
    call = await session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}", code="call_not_found", field="call_id")
    if own_calls_only and call.agent_id != agent_id:
        raise Forbidden("agents code only their own calls", code="not_your_call")
    problems = []
    if code not in codes:
        problems.append(
            Problem(
                "code",
                "unknown_disposition",
                f"unknown disposition {code!r}; use one of {', '.join(codes.names())}",
            )
        )
    if call.answered_at is None:
        problems.append(
            Problem("call_id", "call_not_answered", "only an answered call has a disposition")
        )
    if len(note) > MAX_NOTE:
        problems.append(Problem("note", "too_long", f"at most {MAX_NOTE} characters"))
    if problems:
        raise ValidationError.of(problems)
    customer, project = await _linked(session, call, customer_id, project_id)
    disposition = await get_for_call(session, call_id=call.id)
    if disposition is None:
        disposition = CallDisposition(call_id=call.id, agent_id=call.agent_id or agent_id)
        session.add(disposition)
    disposition.code, disposition.note = code, note.strip()
    disposition.customer_id, disposition.project_id = customer, project
    disposition.coded_at = at
    if call.customer_id is None and customer is not None:
        call.customer_id = customer  # the unknown caller is now known
    await session.flush()
    return disposition


@dataclass(frozen=True, slots=True)
class DispositionCount:
    code: str | None  # None: answered calls nobody coded
    calls: int


async def counts(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[DispositionCount]:
    """Answered calls started in [start, end) by disposition, most frequent first; the calls
    not coded last."""
    rows = await session.execute(
        select(CallDisposition.code, func.count(Call.id))
        .select_from(Call)
        .outerjoin(CallDisposition, CallDisposition.call_id == Call.id)
        .where(Call.started_at >= start, Call.started_at < end, Call.answered_at.is_not(None))
        .group_by(CallDisposition.code)
    )
    found = [DispositionCount(code, n) for code, n in rows]
    return sorted(found, key=lambda c: (c.code is None, -c.calls, c.code or ""))
