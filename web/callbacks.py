"""Logging callback attempts against a project's stage, and reading the stage timeline."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from crm.callbacks import service as callbacks
from crm.callbacks.models import MadeBy, Outcome, Satisfaction
from crm.calls import service as calls
from crm.campaigns import service as campaigns
from crm.complaints.followups import follow_up
from crm.complaints.models import ComplaintGrade
from crm.customers.cards import TaskCard, project_cards, task_cards
from crm.errors import Conflict
from crm.projects import service as projects
from crm.users.models import Role
from web.auth import Caller, require
from web.params import Id, IdPath, Moment
from web.services import Services, services

router = APIRouter(prefix="/api", tags=["callbacks"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.QA, Role.ADMIN)
loggers = require(Role.AGENT, Role.SUPERVISOR)


class SatisfactionIn(BaseModel):
    quality: Satisfaction | None = None
    crew: Satisfaction | None = None
    supervisor: Satisfaction | None = None
    designer: Satisfaction | None = None


class AttemptIn(BaseModel):
    outcome: Outcome
    satisfaction: SatisfactionIn = SatisfactionIn()
    notes: str = Field("", max_length=4000)
    call_back_at: Moment | None = None  # with its zone: it is compared with now
    attempt_id: Id | None = None  # an open attempt (click-to-call) to complete
    call_id: Id | None = None
    linkedid: str | None = Field(None, max_length=64)  # the call, as the pop named it


class OpenedComplaint(BaseModel):
    """A complaint the logged attempt opened (an area the customer was not satisfied with)."""

    id: int
    department: str
    category: str
    grade: ComplaintGrade


class AttemptLogged(TaskCard):
    """The callback's card after the attempt, and the complaints the attempt opened."""

    complaints_opened: list[OpenedComplaint] = Field(default_factory=list)


@router.get("/projects/{project_id}/callbacks", response_model=list[TaskCard])
async def project_callbacks(
    project_id: IdPath, _: Caller = Depends(readers), svc: Services = Depends(services)
) -> list[TaskCard]:
    async with svc.database.session() as session:
        project = await projects.get_or_raise(session, project_id)
        [card] = await project_cards(session, [project], today=svc.today())
        return card.callbacks


@router.post("/callbacks/{task_id}/attempts", response_model=AttemptLogged, status_code=201)
async def log_attempt(
    task_id: IdPath,
    body: AttemptIn,
    caller: Caller = Depends(loggers),
    svc: Services = Depends(services),
) -> AttemptLogged:
    """Record a callback attempt; completes the caller's open attempt when one is named. An
    effective attempt with an area the customer is not satisfied with opens a complaint to
    the department answering for it: the answer names each one opened."""
    at = svc.clock.now()
    satisfaction = body.satisfaction.model_dump()
    async with svc.database.session() as session:
        call_id = body.call_id
        if call_id is None and body.linkedid:
            call = await calls.get_by_linkedid(
                session, pbx_id=svc.settings.pbx_id, linkedid=body.linkedid
            )
            call_id = call.id if call else None
        task = await callbacks.get_or_raise(session, task_id)
        if body.attempt_id is not None:
            attempt = await callbacks.get_attempt_or_raise(
                session, attempt_id=body.attempt_id, task_id=task.id
            )
            if attempt.agent_id not in (None, caller.id) and caller.role is Role.AGENT:
                raise Conflict("this attempt belongs to another agent", code="not_your_attempt")
            await callbacks.attach_call(session, attempt, call_id)
            await campaigns.complete_attempt(
                session,
                attempt=attempt,
                outcome=body.outcome,
                at=at,
                satisfaction=satisfaction,
                notes=body.notes,
                call_back_at=body.call_back_at,
            )
        else:
            attempt = await callbacks.log_attempt(
                session,
                task=task,
                made_by=MadeBy.AGENT,
                agent_id=caller.id,
                outcome=body.outcome,
                at=at,
                satisfaction=satisfaction,
                notes=body.notes,
                call_back_at=body.call_back_at,
                call_id=call_id,
            )
        opened = await follow_up(session, svc.complaint_rules, attempt, at=at, by=caller.id)
        updated = await callbacks.get_with_attempts(session, task_id=task_id)
        [card] = await task_cards(session, [updated], today=svc.today())
        return AttemptLogged(
            **card.model_dump(),
            complaints_opened=[
                OpenedComplaint(
                    id=c.id, department=c.department, category=c.category, grade=c.grade
                )
                for c in opened
            ],
        )
