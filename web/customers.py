"""Customers for the agent desktop: search, the customer card, edits and notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.customers import cards
from crm.customers import service as customers
from crm.customers.cards import CustomerCard, CustomerSummary
from crm.customers.models import Grade
from crm.users.models import Role
from web.auth import Caller, require
from web.params import IdPath
from web.services import Services, services

router = APIRouter(prefix="/api/customers", tags=["customers"])
readers = require(Role.AGENT, Role.SUPERVISOR, Role.QA, Role.ADMIN)
editors = require(Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


class CustomerCreate(BaseModel):
    name: str = Field(max_length=100)
    phones: list[str] = Field(max_length=10)
    address: str = Field("", max_length=255)
    grade: Grade = Grade.B
    notes: str = Field("", max_length=10_000)
    do_not_call: bool = False
    do_not_call_reason: str | None = Field(None, max_length=255)


class CustomerUpdate(BaseModel):
    name: str | None = Field(None, max_length=100)
    phones: list[str] | None = Field(None, max_length=10)
    address: str | None = Field(None, max_length=255)
    grade: Grade | None = None
    do_not_call: bool | None = None
    do_not_call_reason: str | None = Field(None, max_length=255)


class NoteCreate(BaseModel):
    text: str = Field(max_length=2000)


async def _card(svc: Services, customer_id: int) -> CustomerCard:
    async with svc.database.session() as session:
        card = await cards.customer_card(session, customer_id, today=svc.today())
    if card is None:
        raise HTTPException(404, f"no customer {customer_id}")
    return card


@router.get("", response_model=list[CustomerSummary])
async def search(
    q: str = Query(min_length=1, max_length=100),
    _: Caller = Depends(readers),
    svc: Services = Depends(services),
) -> list[CustomerSummary]:
    """By name, any written form of a phone number, or contract number."""
    async with svc.database.session() as session:
        found = await customers.search(session, q, default_area_code=svc.settings.default_area_code)
        return [cards.summary(c) for c in found]


@router.get("/{customer_id}", response_model=CustomerCard)
async def get_card(
    customer_id: IdPath, _: Caller = Depends(readers), svc: Services = Depends(services)
) -> CustomerCard:
    return await _card(svc, customer_id)


@router.post("", response_model=CustomerCard, status_code=201)
async def create(
    body: CustomerCreate, caller: Caller = Depends(editors), svc: Services = Depends(services)
) -> CustomerCard:
    async with svc.database.session() as session:
        customer = await customers.create(
            session, **body.model_dump(), default_area_code=svc.settings.default_area_code
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="customer.create",
            entity_type="customer",
            entity_id=customer.id,
            at=svc.clock.now(),
        )
    return await _card(svc, customer.id)


@router.patch("/{customer_id}", response_model=CustomerCard)
async def update(
    customer_id: IdPath,
    body: CustomerUpdate,
    caller: Caller = Depends(editors),
    svc: Services = Depends(services),
) -> CustomerCard:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    async with svc.database.session() as session:
        customer = await customers.get_or_raise(session, customer_id)
        await customers.update(
            session, customer, **changes, default_area_code=svc.settings.default_area_code
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="customer.update",
            entity_type="customer",
            entity_id=customer.id,
            detail={"fields": sorted(changes)},
            at=svc.clock.now(),
        )
    return await _card(svc, customer_id)


@router.post("/{customer_id}/notes", response_model=CustomerCard, status_code=201)
async def add_note(
    customer_id: IdPath,
    body: NoteCreate,
    caller: Caller = Depends(editors),
    svc: Services = Depends(services),
) -> CustomerCard:
    stamp = svc.clock.now().astimezone(svc.settings.tz).strftime("%Y-%m-%d %H:%M")
    async with svc.database.session() as session:
        customer = await customers.get_or_raise(session, customer_id)
        await customers.add_note(
            session, customer, text=body.text, author=caller.user.display_name, stamp=stamp
        )
    return await _card(svc, customer_id)
