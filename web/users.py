"""Admin: create users, set their roles and agents' extensions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.users import service as users
from crm.users import sessions
from crm.users.models import Role
from web.auth import Caller, UserOut, require
from web.events import ExtensionsChanged, SocketsEnded
from web.params import IdPath
from web.revocation import end_sockets, ended_by_update
from web.services import Services, services

router = APIRouter(prefix="/api/users", tags=["users"])
admin_only = require(Role.ADMIN)


class UserCreate(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    display_name: str = Field(max_length=100)
    role: Role
    extension: str | None = Field(None, max_length=32)
    department: str | None = Field(None, max_length=50)  # a department user's


class UserUpdate(BaseModel):
    display_name: str | None = Field(None, max_length=100)
    role: Role | None = None
    extension: str | None = Field(None, max_length=32)
    clear_extension: bool = False
    password: str | None = Field(None, max_length=1024)
    is_active: bool | None = None
    department: str | None = Field(None, max_length=50)


@router.get("", response_model=list[UserOut])
async def list_users(
    _: Caller = Depends(admin_only), svc: Services = Depends(services)
) -> list[UserOut]:
    async with svc.database.session() as session:
        return [UserOut.of(u) for u in await users.get_all(session)]


@router.post("", response_model=UserOut, status_code=201)
async def create_user(
    body: UserCreate, caller: Caller = Depends(admin_only), svc: Services = Depends(services)
) -> UserOut:
    async with svc.database.session() as session:
        user = await users.create(
            session,
            username=body.username,
            password=body.password,
            display_name=body.display_name,
            role=body.role,
            extension=body.extension or None,
            department=body.department,
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="user.create",
            entity_type="user",
            entity_id=user.id,
            detail={"role": user.role.value, "extension": user.extension},
            at=svc.clock.now(),
        )
        created = UserOut.of(user)
    extensions_changed(svc, created.id)  # committed: a ring of this extension finds them
    return created


def extensions_changed(svc: Services, user_id: int) -> None:
    """Every process reads who has which extension again: this one at once, the others
    when the event reaches them."""
    svc.extensions.forget()
    svc.bus.publish(ExtensionsChanged(user_id))


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: IdPath,
    body: UserUpdate,
    caller: Caller = Depends(admin_only),
    svc: Services = Depends(services),
) -> UserOut:
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    async with svc.database.session() as session:
        user = await users.get_or_raise(session, user_id)
        role_before = user.role
        await users.update(session, user, **changes)
        if body.password is not None or body.is_active is False:
            await sessions.revoke_all(session, user.id, at=svc.clock.now())
        # Open websockets were let in as the user was: they close (once this commits).
        ended = ended_by_update(
            deactivated=body.is_active is False,
            password_changed=body.password is not None,
            role_changed=user.role is not role_before,
        )
        await audit.record(
            session,
            actor=caller.user.username,
            user_id=caller.id,
            action="user.update",
            entity_type="user",
            entity_id=user.id,
            detail={k: v for k, v in changes.items() if k != "password"}
            | ({"password": "changed"} if body.password else {}),
            at=svc.clock.now(),
        )
        updated = UserOut.of(user)
    extensions_changed(svc, updated.id)  # committed: a moved or freed extension is read again
    if ended is not None:
        end_sockets(svc, SocketsEnded(updated.id, reason=ended))
    return updated
