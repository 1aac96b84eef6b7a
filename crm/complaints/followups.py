"""What an effective callback sets in motion (SPEC: not satisfied must produce feedback to the
responsible department, and a follow-up callback once it is handled):

- on a stage callback, each area the customer is not satisfied with becomes a complaint to the
  department answering for it (one complaint per department, named in the agent's notes);
- on a complaint's call back, the customer's verdict closes the complaint or reopens it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm.callbacks.models import (
    SATISFACTION_AREAS,
    CallbackAttempt,
    CallbackTask,
    Outcome,
    Satisfaction,
    Stage,
)
from crm.complaints import service as complaints
from crm.complaints.models import Complaint, ComplaintSource, ComplaintStatus
from crm.complaints.rules import ComplaintRules
from crm.projects.models import Project


def unsatisfied_areas(attempt: CallbackAttempt) -> list[str]:
    return [
        area
        for area in SATISFACTION_AREAS
        if getattr(attempt, f"satisfaction_{area}") is Satisfaction.UNSATISFIED
    ]


async def follow_up(
    session: AsyncSession,
    rules: ComplaintRules,
    attempt: CallbackAttempt,
    *,
    at: datetime,
    by: int | None = None,
) -> list[Complaint]:
    """Act on a completed attempt (`by`: who logged it); returns the complaints it opened.
    Idempotent: an attempt already followed up opens nothing more."""
    if attempt.outcome is not Outcome.EFFECTIVE:
        return []
    task = await session.get(CallbackTask, attempt.task_id)
    assert task is not None
    if task.stage is Stage.COMPLAINT:
        await _complaint_call_back(session, rules, task, attempt, at, by)
        return []
    areas = unsatisfied_areas(attempt)
    if not areas:
        return []
    already = set(
        await session.scalars(
            select(Complaint.department).where(Complaint.attempt_id == attempt.id)
        )
    )
    project = await session.get(Project, task.project_id)
    assert project is not None
    by_department: dict[str, list[str]] = {}
    for area in areas:
        by_department.setdefault(rules.area_departments[area], []).append(area)
    opened = []
    for department, its_areas in by_department.items():
        if department in already:
            continue
        description = f"{task.stage.value} callback: not satisfied with {', '.join(its_areas)}"
        if attempt.notes:
            description += f"\n{attempt.notes}"
        opened.append(
            await complaints.open_complaint(
                session,
                rules,
                customer_id=project.customer_id,
                project_id=project.id,
                source=ComplaintSource.CALLBACK,
                department=department,
                category=its_areas[0],
                description=description,
                received_at=at,
                call_id=attempt.call_id,
                attempt_id=attempt.id,
                first_contact_id=attempt.agent_id or by,
            )
        )
    return opened


async def _complaint_call_back(
    session: AsyncSession,
    rules: ComplaintRules,
    task: CallbackTask,
    attempt: CallbackAttempt,
    at: datetime,
    by: int | None,
) -> None:
    complaint = await complaints.called_back_by(session, task=task)
    if complaint is None or complaint.status is not ComplaintStatus.RESOLVED:
        return  # already decided (e.g. recorded by hand before the call was logged)
    await complaints.record_call_back(
        session,
        rules,
        complaint,
        satisfied=not unsatisfied_areas(attempt),
        at=at,
        actor_id=attempt.agent_id or by,
        attempt_id=attempt.id,
        notes=attempt.notes,
    )
