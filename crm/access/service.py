"""Access requests to callback records: asked for by another department, decided by the
customer-service manager, valid until they expire or are revoked."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.access.models import AccessGrant, GrantStatus
from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.customers.models import Customer
from crm.errors import Conflict, NotFound, Problem, ValidationError
from crm.projects.models import Project
from crm.query_filters import equal_where_given

LONGEST = timedelta(days=90)


def effective_status(grant: AccessGrant, now: datetime) -> str:
    """The status as people read it: an approved grant past its end is "expired"."""
    if grant.status is GrantStatus.APPROVED and grant.expires_at and grant.expires_at <= now:
        return "expired"
    return grant.status.value


async def get_or_raise(session: AsyncSession, grant_id: int) -> AccessGrant:
    grant = await session.get(AccessGrant, grant_id)
    if grant is None:
        raise NotFound(f"no access request {grant_id}", code="grant_not_found")
    return grant


async def request_access(
    session: AsyncSession,
    *,
    requester_id: int,
    reason: str,
    wanted_until: datetime,
    now: datetime,
    project_id: int | None = None,
    customer_id: int | None = None,
) -> AccessGrant:
    """Which records (one project's, or every project of one customer), why, until when."""
    problems = []
    if (project_id is None) == (customer_id is None):
        problems.append(
            Problem("project_id", "one_target", "name either one project or one customer")
        )
    elif project_id is not None and await session.get(Project, project_id) is None:
        problems.append(Problem("project_id", "project_not_found", "no such project"))
    elif customer_id is not None and await session.get(Customer, customer_id) is None:
        problems.append(Problem("customer_id", "customer_not_found", "no such customer"))
    if not reason.strip():
        problems.append(Problem("reason", "required", "say why the records are needed"))
    if wanted_until <= now:
        problems.append(Problem("wanted_until", "in_the_past", "the end must be in the future"))
    elif wanted_until > now + LONGEST:
        problems.append(Problem("wanted_until", "too_long", "at most 90 days"))
    if problems:
        raise ValidationError.of(problems)
    grant = AccessGrant(
        requester_id=requester_id,
        project_id=project_id,
        customer_id=customer_id,
        reason=reason.strip(),
        wanted_until=wanted_until,
        status=GrantStatus.REQUESTED,
        decision_note="",
    )
    session.add(grant)
    await session.flush()
    return grant


async def decide(
    session: AsyncSession,
    grant: AccessGrant,
    *,
    approve: bool,
    decided_by: int,
    at: datetime,
    expires_at: datetime | None = None,
    note: str = "",
) -> AccessGrant:
    """The manager approves (possibly for less time than asked) or rejects."""
    if grant.status is not GrantStatus.REQUESTED:
        raise Conflict(f"the request is already {grant.status.value}", code="already_decided")
    if approve:
        until = expires_at or grant.wanted_until
        if until <= at:
            raise ValidationError(
                "the grant must end in the future", code="in_the_past", field="expires_at"
            )
        if until > grant.wanted_until:
            raise ValidationError(
                "a grant cannot outlast the request", code="beyond_request", field="expires_at"
            )
        grant.expires_at = until
    grant.status = GrantStatus.APPROVED if approve else GrantStatus.REJECTED
    grant.decided_by_id, grant.decided_at, grant.decision_note = decided_by, at, note.strip()
    await session.flush()
    return grant


async def revoke(
    session: AsyncSession, grant: AccessGrant, *, by: int, at: datetime, note: str = ""
) -> AccessGrant:
    if grant.status is not GrantStatus.APPROVED:
        raise Conflict("only an approved grant can be revoked", code="not_approved")
    grant.status, grant.decided_by_id, grant.decided_at = GrantStatus.REVOKED, by, at
    grant.decision_note = note.strip() or grant.decision_note
    await session.flush()
    return grant


async def active_grant(
    session: AsyncSession, *, user_id: int, project: Project, now: datetime
) -> AccessGrant | None:
    """The user's grant covering this project's records now, if any."""
    return await session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.requester_id == user_id,
            AccessGrant.status == GrantStatus.APPROVED,
            AccessGrant.expires_at > now,
            or_(
                AccessGrant.project_id == project.id, AccessGrant.customer_id == project.customer_id
            ),
        )
        .order_by(AccessGrant.expires_at.desc())
        .limit(1)
    )


async def grant_for_call(
    session: AsyncSession, *, user_id: int, call_id: int, now: datetime
) -> AccessGrant | None:
    """The user's grant covering a call now: the call was a callback of a project the grant
    names, or of a project of the customer it names (a callback record's recording is part of
    the record). Other calls are never covered."""
    projects = (
        select(CallbackTask.project_id)
        .join(CallbackAttempt, CallbackAttempt.task_id == CallbackTask.id)
        .where(CallbackAttempt.call_id == call_id)
    )
    customers = select(Project.customer_id).where(Project.id.in_(projects))
    return await session.scalar(
        select(AccessGrant)
        .where(
            AccessGrant.requester_id == user_id,
            AccessGrant.status == GrantStatus.APPROVED,
            AccessGrant.expires_at > now,
            or_(AccessGrant.project_id.in_(projects), AccessGrant.customer_id.in_(customers)),
        )
        .order_by(AccessGrant.expires_at.desc())
        .limit(1)
    )


async def get_list(
    session: AsyncSession,
    *,
    requester_id: int | None = None,
    status: GrantStatus | None = None,
    limit: int = 200,
) -> list[AccessGrant]:
    query = select(AccessGrant).order_by(AccessGrant.id.desc()).limit(limit)
    query = equal_where_given(
        query,
        (AccessGrant.requester_id, requester_id),
        (AccessGrant.status, status),
    )
    return list(await session.scalars(query))
