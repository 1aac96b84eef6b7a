"""Other departments' access to callback records: request, the manager's decision, and reads
under a grant (each one audited)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from crm.access import service as access
from crm.access.models import GrantStatus
from crm.audit import service as audit
from crm.customers.cards import ProjectCard, project_cards
from crm.errors import DomainError
from crm.projects import service as projects
from crm.users import service as users
from crm.users.models import Role
from web.auth import Caller, require
from web.moments import IsoMoment
from web.params import Id, IdPath, Moment
from web.services import Services, services

if TYPE_CHECKING:
    from crm.access.models import AccessGrant

router = APIRouter(prefix="/api", tags=["access"])
requesters = require(Role.DEPARTMENT)
managers = require(Role.SUPERVISOR)
listers = require(Role.DEPARTMENT, Role.SUPERVISOR, Role.ADMIN)


class NoGrant(DomainError):
    status = 403


class RequestIn(BaseModel):
    project_id: Id | None = None
    customer_id: Id | None = None
    reason: str = Field(max_length=2000)
    wanted_until: Moment


class DecisionIn(BaseModel):
    expires_at: Moment | None = None  # approve: until the request's end by default
    note: str = Field("", max_length=2000)


class GrantOut(BaseModel):
    """A request for access to callback records, and the manager's decision on it."""

    id: int
    requester_id: int
    requester_name: str
    project_id: int | None
    customer_id: int | None
    reason: str
    wanted_until: IsoMoment
    status: str  # requested, approved, rejected, revoked; or expired: approved, past its end
    decided_by_id: int | None
    decided_at: IsoMoment | None
    expires_at: IsoMoment | None
    decision_note: str
    created_at: IsoMoment | None


def _view(grant: AccessGrant, svc: Services, names: dict[int, str]) -> GrantOut:
    return GrantOut(
        id=grant.id,
        requester_id=grant.requester_id,
        requester_name=names.get(grant.requester_id, ""),
        project_id=grant.project_id,
        customer_id=grant.customer_id,
        reason=grant.reason,
        wanted_until=grant.wanted_until,
        status=access.effective_status(grant, svc.clock.now()),
        decided_by_id=grant.decided_by_id,
        decided_at=grant.decided_at,
        expires_at=grant.expires_at,
        decision_note=grant.decision_note,
        created_at=grant.created_at,
    )


@router.post("/access-requests", response_model=GrantOut, status_code=201)
async def request_access(
    body: RequestIn, caller: Caller = Depends(requesters), svc: Services = Depends(services)
) -> GrantOut:
    now = svc.clock.now()
    async with svc.database.session() as session:
        grant = await access.request_access(
            session,
            requester_id=caller.id,
            project_id=body.project_id,
            customer_id=body.customer_id,
            reason=body.reason,
            wanted_until=body.wanted_until,
            now=now,
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="access.request",
            entity_type="access_grant",
            entity_id=grant.id,
            at=now,
        )
        return _view(grant, svc, {caller.id: caller.user.display_name})


@router.get("/access-requests", response_model=list[GrantOut])
async def list_requests(
    caller: Caller = Depends(listers),
    svc: Services = Depends(services),
    status: GrantStatus | None = None,
    limit: int = Query(200, ge=1, le=1000),
) -> list[GrantOut]:
    """A department sees its own requests; the manager sees everyone's."""
    async with svc.database.session() as session:
        grants = await access.get_list(
            session,
            status=status,
            limit=limit,
            requester_id=caller.id if caller.role is Role.DEPARTMENT else None,
        )
        names = await users.display_names(session, ids={g.requester_id for g in grants})
        return [_view(g, svc, names) for g in grants]


async def _decide(
    grant_id: int, body: DecisionIn, caller: Caller, svc: Services, action: str
) -> GrantOut:
    now = svc.clock.now()
    async with svc.database.session() as session:
        grant = await access.get_or_raise(session, grant_id)
        if action == "revoke":
            await access.revoke(session, grant, by=caller.id, at=now, note=body.note)
        else:
            await access.decide(
                session,
                grant,
                approve=action == "approve",
                decided_by=caller.id,
                at=now,
                expires_at=body.expires_at,
                note=body.note,
            )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action=f"access.{action}",
            entity_type="access_grant",
            entity_id=grant.id,
            at=now,
            detail={"expires_at": grant.expires_at.isoformat() if grant.expires_at else None},
        )
        names = await users.display_names(session, ids={grant.requester_id})
        return _view(grant, svc, names)


@router.post("/access-requests/{grant_id}/approve", response_model=GrantOut)
async def approve(
    grant_id: IdPath,
    body: DecisionIn,
    caller: Caller = Depends(managers),
    svc: Services = Depends(services),
) -> GrantOut:
    return await _decide(grant_id, body, caller, svc, "approve")


@router.post("/access-requests/{grant_id}/reject", response_model=GrantOut)
async def reject(
    grant_id: IdPath,
    body: DecisionIn,
    caller: Caller = Depends(managers),
    svc: Services = Depends(services),
) -> GrantOut:
    return await _decide(grant_id, body, caller, svc, "reject")


@router.post("/access-requests/{grant_id}/revoke", response_model=GrantOut)
async def revoke(
    grant_id: IdPath,
    body: DecisionIn,
    caller: Caller = Depends(managers),
    svc: Services = Depends(services),
) -> GrantOut:
    return await _decide(grant_id, body, caller, svc, "revoke")


@router.get("/granted/projects/{project_id}/callbacks", response_model=ProjectCard)
async def granted_callbacks(
    project_id: IdPath,
    request: Request,
    caller: Caller = Depends(requesters),
    svc: Services = Depends(services),
) -> ProjectCard:
    """A project's callback records, for a department holding a grant; every read is
    audited with the grant it was made under."""
    now = svc.clock.now()
    async with svc.database.session() as session:
        project = await projects.get_or_raise(session, project_id)
        grant = await access.active_grant(session, user_id=caller.id, project=project, now=now)
        if grant is not None:
            [card] = await project_cards(session, [project], today=svc.today())
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="callbacks.read_under_grant" if grant else "callbacks.read_refused",
            entity_type="project",
            entity_id=project_id,
            at=now,
            detail={"grant_id": grant.id} if grant else {},
            ip=request.client.host if request.client else None,
        )
    if grant is None:
        raise NoGrant("reading callback records needs the manager's approval", code="no_grant")
    return card
