"""Supervisors' campaigns: define, start, pause, stop; live progress by stage; the attempts,
also as an XLSX file."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.campaigns import service as campaigns
from crm.campaigns.models import CampaignStatus, DialMode
from crm.users.models import Role
from web import spreadsheets
from web.auth import Caller, require
from web.errors import file_answer
from web.params import Day, Id, IdPath, Offset
from web.services import Services, services

if TYPE_CHECKING:
    from crm.campaigns.models import Campaign

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"])
supervisors = require(Role.SUPERVISOR, Role.ADMIN)


class CampaignIn(BaseModel):
    name: str = Field(max_length=100)
    mode: DialMode = DialMode.AGENT_FIRST
    stages: list[str] = Field(default_factory=list, max_length=10)
    grades: list[str] = Field(default_factory=list, max_length=3)
    project_statuses: list[str] = Field(default_factory=list, max_length=4)
    due_from: Day | None = None
    due_to: Day | None = None
    agent_ids: list[Id] = Field(default_factory=list, max_length=500)
    queue: str | None = Field(None, max_length=64)
    calling_hours: str | None = Field(None, max_length=100)
    max_concurrent: int = 2
    pacing_ratio: float = 1.0
    busy_retry_minutes: int = 10
    no_answer_retry_minutes: int = 120
    failed_retry_minutes: int = 30
    max_attempts_per_day: int = 3
    max_attempts_total: int = 6
    redial_guard_minutes: int = 5


class CampaignPatch(BaseModel):
    name: str | None = Field(None, max_length=100)
    mode: DialMode | None = None
    stages: list[str] | None = Field(None, max_length=10)
    grades: list[str] | None = Field(None, max_length=3)
    project_statuses: list[str] | None = Field(None, max_length=4)
    due_from: Day | None = None
    due_to: Day | None = None
    agent_ids: list[Id] | None = Field(None, max_length=500)
    queue: str | None = Field(None, max_length=64)
    calling_hours: str | None = Field(None, max_length=100)
    max_concurrent: int | None = None
    pacing_ratio: float | None = None
    busy_retry_minutes: int | None = None
    no_answer_retry_minutes: int | None = None
    failed_retry_minutes: int | None = None
    max_attempts_per_day: int | None = None
    max_attempts_total: int | None = None
    redial_guard_minutes: int | None = None


class CampaignOut(CampaignIn):
    id: int
    owner_id: int
    status: CampaignStatus
    started_at: datetime | None
    stopped_at: datetime | None

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignOut:
        fields = {name: getattr(campaign, name) for name in campaigns.EDITABLE}
        return cls(
            id=campaign.id,
            owner_id=campaign.owner_id,
            status=campaign.status,
            started_at=campaign.started_at,
            stopped_at=campaign.stopped_at,
            **fields,
        )


class AttemptRow(BaseModel):
    id: int
    started_at: datetime
    completed_at: datetime | None
    customer_id: int
    customer_name: str
    dialed_number: str | None
    stage: str
    month: int
    task_id: int
    agent_id: int | None
    outcome: str | None
    satisfaction: dict[str, str | None]
    notes: str
    call_id: int | None


class StageProgressOut(BaseModel):
    """A stage's callbacks in the campaign: due, being dialed, reached, and how they went."""

    stage: str
    due: int
    dialing: int
    reached: int
    effective: int
    satisfied: int
    unsatisfied: int
    unreachable: int


class DialerStatusOut(BaseModel):
    """Whether a dialer is working: the active one's calls, and how many stand by."""

    active: bool
    calls_started: int
    standby: int


class CampaignDetail(BaseModel):
    campaign: CampaignOut
    progress: list[StageProgressOut]
    dialer: DialerStatusOut | None  # None: no dialer is running


@router.get("", response_model=list[CampaignOut])
async def list_campaigns(
    _: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> list[CampaignOut]:
    async with svc.database.session() as session:
        return [CampaignOut.of(c) for c in await campaigns.get_all(session)]


@router.post("", response_model=CampaignOut, status_code=201)
async def create_campaign(
    body: CampaignIn, caller: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> CampaignOut:
    async with svc.database.session() as session:
        campaign = await campaigns.create(session, owner_id=caller.id, **body.model_dump())
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="campaign.create",
            entity_type="campaign",
            entity_id=campaign.id,
            at=svc.clock.now(),
        )
        return CampaignOut.of(campaign)


@router.get("/{campaign_id}", response_model=CampaignDetail)
async def get_campaign(
    campaign_id: IdPath, _: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> CampaignDetail:
    """The campaign, its progress by stage, and whether the dialer is working."""
    async with svc.database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        stages = await campaigns.progress(
            session, campaign, settings=svc.settings, now=svc.clock.now()
        )
    dialer = await svc.dialer_status()
    return CampaignDetail(
        campaign=CampaignOut.of(campaign),
        progress=[StageProgressOut.model_validate(asdict(s)) for s in stages],
        dialer=DialerStatusOut.model_validate(dialer) if dialer is not None else None,
    )


@router.patch("/{campaign_id}", response_model=CampaignOut)
async def update_campaign(
    campaign_id: IdPath,
    body: CampaignPatch,
    caller: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> CampaignOut:
    changes = body.model_dump(exclude_unset=True)
    async with svc.database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        await campaigns.update_fields(session, campaign, **changes)
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="campaign.update",
            entity_type="campaign",
            entity_id=campaign.id,
            detail={"fields": sorted(changes)},
            at=svc.clock.now(),
        )
        return CampaignOut.of(campaign)


async def _transition(svc: Services, caller: Caller, campaign_id: int, action: str) -> CampaignOut:
    async with svc.database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        await campaigns.transition(session, campaign, action, at=svc.clock.now())
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action=f"campaign.{action}",
            entity_type="campaign",
            entity_id=campaign.id,
            at=svc.clock.now(),
        )
        return CampaignOut.of(campaign)


@router.post("/{campaign_id}/start", response_model=CampaignOut)
async def start(
    campaign_id: IdPath, caller: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> CampaignOut:
    """Start (or resume) dialing."""
    return await _transition(svc, caller, campaign_id, "start")


@router.post("/{campaign_id}/pause", response_model=CampaignOut)
async def pause(
    campaign_id: IdPath, caller: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> CampaignOut:
    """Finish the calls in progress, dial nothing new."""
    return await _transition(svc, caller, campaign_id, "pause")


@router.post("/{campaign_id}/stop", response_model=CampaignOut)
async def stop(
    campaign_id: IdPath, caller: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> CampaignOut:
    """End the campaign for good (its attempts stay)."""
    return await _transition(svc, caller, campaign_id, "stop")


async def _attempts(svc: Services, campaign_id: int, limit: int, offset: int) -> list[AttemptRow]:
    async with svc.database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        rows = await campaigns.attempts(session, campaign, limit=limit, offset=offset)
    return [
        AttemptRow(
            id=a.id,
            started_at=a.started_at,
            completed_at=a.completed_at,
            customer_id=c.id,
            customer_name=c.name,
            dialed_number=a.dialed_number,
            stage=t.stage.value,
            month=t.month,
            task_id=t.id,
            agent_id=a.agent_id,
            outcome=a.outcome.value if a.outcome else None,
            satisfaction={k: v.value if v else None for k, v in a.satisfaction().items()},
            notes=a.notes,
            call_id=a.call_id,
        )
        for a, t, c in rows
    ]


@router.get("/{campaign_id}/attempts", response_model=list[AttemptRow])
async def list_attempts(
    campaign_id: IdPath,
    limit: int = Query(100, ge=1, le=1000),
    offset: Offset = 0,
    _: Caller = Depends(supervisors),
    svc: Services = Depends(services),
) -> list[AttemptRow]:
    return await _attempts(svc, campaign_id, limit, offset)


EXPORT_HEADERS = (
    "尝试编号",
    "开始时间",
    "结束时间",
    "客户",
    "拨打号码",
    "回访阶段",
    "月份",
    "结果",
    "施工质量",
    "施工队",
    "监理",
    "设计师",
    "备注",
)


@router.get(
    "/{campaign_id}/attempts.xlsx",
    response_class=StreamingResponse,
    responses=file_answer(spreadsheets.MEDIA_TYPE, "the attempts as a workbook"),
)
async def export_attempts(
    campaign_id: IdPath, caller: Caller = Depends(supervisors), svc: Services = Depends(services)
) -> StreamingResponse:
    """Every attempt of the campaign as a spreadsheet (times in the call centre's zone)."""
    rows = await _attempts(svc, campaign_id, 1_000_000, 0)
    book = spreadsheets.workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "回访记录"
    spreadsheets.append(sheet, EXPORT_HEADERS)
    tz = svc.settings.tz
    for row in rows:
        spreadsheets.append(
            sheet,
            [
                row.id,
                row.started_at.astimezone(tz).replace(tzinfo=None),
                row.completed_at.astimezone(tz).replace(tzinfo=None) if row.completed_at else None,
                row.customer_name,
                row.dialed_number,
                row.stage,
                row.month or None,
                row.outcome,
                *(row.satisfaction.get(a) for a in ("quality", "crew", "supervisor", "designer")),
                row.notes,
            ],
        )
    content = spreadsheets.to_bytes(book)
    async with svc.database.session() as session:
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="campaign.export",
            entity_type="campaign",
            entity_id=campaign_id,
            detail={"rows": len(rows)},
            at=svc.clock.now(),
        )
    return StreamingResponse(
        iter([content]),
        media_type=spreadsheets.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign_id}.xlsx"'},
    )
