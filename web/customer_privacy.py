"""The admin's routes for a customer's data on request (PIPL): the export as a ZIP and the
erasure (see web.customer_data)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel

from crm.users.models import Role
from telephony.recordings.errors import RecordingError
from web import customer_data
from web.auth import Caller, require
from web.errors import answers, file_answer
from web.params import IdPath
from web.services import Services, services

router = APIRouter(prefix="/api/customers", tags=["customers"])
admins = require(Role.ADMIN)


class ErasureOut(BaseModel):
    """What the erasure removed, as counts (the audit entry holds the same)."""

    customer_id: int
    phones: int
    calls: int
    recordings: int
    transcripts: int
    call_scores: int
    rule_reviews: int
    qa_feedback: int
    call_dispositions: int
    projects: int
    callback_attempts: int
    complaints: int
    repairs: int
    access_grants: int


@router.get(
    "/{customer_id}/export",
    response_class=Response,
    responses=file_answer("application/zip", "everything held about the customer"),
)
async def export(
    customer_id: IdPath,
    recordings: bool = Query(False, description="include the call recordings"),
    caller: Caller = Depends(admins),
    svc: Services = Depends(services),
) -> Response:
    """Everything held about the customer as one ZIP (customer.json, recordings/)."""
    archive = await customer_data.export_customer(
        svc.database,
        svc.recording_files,
        customer_id=customer_id,
        with_recordings=recordings,
        actor=caller.user.username,
        user_id=caller.id,
        now=svc.clock.now(),
    )
    return Response(
        archive.content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{archive.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/{customer_id}/erase",
    response_model=ErasureOut,
    responses=answers(503, "a recording could not be removed; nothing was erased"),
)
async def erase(
    customer_id: IdPath, caller: Caller = Depends(admins), svc: Services = Depends(services)
) -> ErasureOut:
    """Anonymise the customer: name, numbers, addresses, notes, transcripts and recordings
    deleted, and the texts about their calls (dispositions, QA feedback, rule reviews, the
    words the QA scores quote); 409 when already erased."""
    try:
        done = await customer_data.erase_customer(
            svc.database,
            svc.recording_files,
            customer_id=customer_id,
            actor=caller.user.username,
            user_id=caller.id,
            now=svc.clock.now(),
        )
    except RecordingError as exc:
        raise HTTPException(
            503, [{"field": None, "code": "recording_not_removed", "message": str(exc)}]
        ) from None
    return ErasureOut(customer_id=done.customer_id, **done.as_detail())
