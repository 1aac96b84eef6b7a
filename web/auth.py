"""Who is calling: session cookies for pages (with CSRF), bearer tokens for the API, roles.

Every route declares the roles it admits with `Depends(require(...))`: no login gives 401,
the wrong role 403. Failed logins are audited and rate-limited per username and per address.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from crm.audit import service as audit
from crm.audit.models import AuditEntry
from crm.users import service as users
from crm.users import sessions
from crm.users.models import Role, SessionKind, User, UserSession
from web.errors import problem
from web.services import Services, services

COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
API_TOKEN_DAYS = 90

router = APIRouter(prefix="/api/auth", tags=["auth"])


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    extension: str | None
    is_active: bool
    department: str | None = None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            extension=user.extension,
            is_active=user.is_active,
            department=user.department,
        )


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated user of a request, and how they authenticated."""

    user: UserOut
    session_id: int
    kind: SessionKind
    csrf_token: str

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def role(self) -> Role:
        return self.user.role


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(svc: Services, *, cookie: str | None, bearer: str | None) -> Caller | None:
    token = bearer or cookie
    if not token:
        return None
    async with svc.database.session() as session:
        found = await sessions.resolve(session, token, at=svc.clock.now())
        if found is None:
            return None
        row, user = found
        kind = SessionKind.API if bearer else SessionKind.BROWSER
        if row.kind is not kind:
            return None  # a browser cookie is not an API token, nor the reverse
        return Caller(UserOut.of(user), row.id, row.kind, row.csrf_token)


async def current_caller(request: Request, svc: Services = Depends(services)) -> Caller:
    caller = await authenticate(svc, cookie=request.cookies.get(COOKIE), bearer=_bearer(request))
    if caller is None:
        raise HTTPException(401, "log in first", headers={"WWW-Authenticate": "Bearer"})
    if (
        caller.kind is SessionKind.BROWSER
        and request.method not in SAFE_METHODS
        and request.headers.get(CSRF_HEADER) != caller.csrf_token
    ):
        raise HTTPException(
            403,
            [
                {
                    "field": None,
                    "code": "csrf_failed",
                    "message": "missing or wrong CSRF token; reload the page",
                }
            ],
        )
    return caller


def require(*roles: Role) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting only these roles (admins are not implied)."""

    async def dependency(caller: Caller = Depends(current_caller)) -> Caller:
        if caller.role not in roles:
            raise HTTPException(
                403,
                [
                    {
                        "field": None,
                        "code": "forbidden",
                        "message": f"this needs the role {' or '.join(roles)}",
                    }
                ],
            )
        return caller

    return dependency


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str


class TokenRequest(Credentials):
    label: str = Field("", max_length=64)


class TokenOut(BaseModel):
    token: str
    expires_at: str
    user: UserOut


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _too_many_failures(svc: Services, username: str, ip: str | None) -> bool:
    since = svc.clock.now() - FAILURE_WINDOW
    async with svc.database.session() as session:
        by_name = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "login_failed",
                AuditEntry.entity_type == "user",
                AuditEntry.entity_id == username,
                AuditEntry.at >= since,
            )
        )
        by_ip = (
            await session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == "login_failed", AuditEntry.ip == ip, AuditEntry.at >= since
                )
            )
            if ip
            else 0
        )
    return (by_name or 0) >= MAX_FAILURES or (by_ip or 0) >= MAX_FAILURES * 4


async def _check_password(
    svc: Services, request: Request, credentials: Credentials
) -> User | Response:
    ip = _ip(request)
    if await _too_many_failures(svc, credentials.username, ip):
        return problem(
            429,
            "too_many_attempts",
            "too many failed logins; wait 15 minutes or ask an admin",
            headers={"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))},
        )
    async with svc.database.session() as session:
        user = await users.authenticate(session, credentials.username, credentials.password)
        if user is None:
            await audit.record(
                session,
                actor=credentials.username[:64],
                action="login_failed",
                entity_type="user",
                entity_id=credentials.username[:64],
                ip=ip,
                at=svc.clock.now(),
            )
            return problem(401, "invalid_credentials", "wrong username or password")
        await audit.record(
            session,
            actor=user.username,
            action="login",
            user_id=user.id,
            entity_type="user",
            entity_id=user.username,
            ip=ip,
            at=svc.clock.now(),
        )
        return user


@router.post("/login", response_model=LoginOut)
async def login(
    credentials: Credentials,
    request: Request,
    response: Response,
    svc: Services = Depends(services),
) -> Any:
    """Log in a browser: sets the session cookie and returns the CSRF token for the page."""
    user = await _check_password(svc, request, credentials)
    if isinstance(user, Response):
        return user
    lifetime = timedelta(hours=svc.settings.session_hours)
    async with svc.database.session() as session:
        token, row = await sessions.create(
            session,
            user=user,
            kind=SessionKind.BROWSER,
            at=svc.clock.now(),
            lifetime=lifetime,
            ip=_ip(request),
            user_agent=request.headers.get("user-agent"),
        )
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return LoginOut(user=UserOut.of(user), csrf_token=row.csrf_token)


@router.post("/logout", status_code=204)
async def logout(
    response: Response, caller: Caller = Depends(current_caller), svc: Services = Depends(services)
) -> Response:
    async with svc.database.session() as session:
        row = await session.get(UserSession, caller.session_id)
        if row is not None:
            await sessions.revoke(session, row, at=svc.clock.now())
        await audit.record(
            session,
            actor=caller.user.username,
            action="logout",
            user_id=caller.id,
            at=svc.clock.now(),
        )
    response.status_code = 204
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/me", response_model=LoginOut)
async def me(caller: Caller = Depends(current_caller)) -> LoginOut:
    return LoginOut(user=caller.user, csrf_token=caller.csrf_token)


@router.post("/tokens", response_model=TokenOut, status_code=201)
async def create_token(
    body: TokenRequest, request: Request, svc: Services = Depends(services)
) -> Any:
    """A bearer token for API clients (`Authorization: Bearer …`), shown once."""
    user = await _check_password(svc, request, body)
    if isinstance(user, Response):
        return user
    async with svc.database.session() as session:
        token, row = await sessions.create(
            session,
            user=user,
            kind=SessionKind.API,
            at=svc.clock.now(),
            lifetime=timedelta(days=API_TOKEN_DAYS),
            ip=_ip(request),
            label=body.label,
        )
    return TokenOut(token=token, expires_at=row.expires_at.isoformat(), user=UserOut.of(user))
