"""Who is calling: session cookies for pages (with CSRF), bearer tokens for the API, roles.

Every route declares the roles it admits with `Depends(require(...))`: no login gives 401,
the wrong role 403. Every password check is paid for before it is made and failed logins slow
down further checks (crm/users/throttle.py); failures and the delays they start are audited.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from crm.audit import service as audit
from crm.users import service as users
from crm.users import sessions, throttle
from crm.users.models import Role, SessionKind
from web.errors import problem
from web.events import SocketsEnded
from web.revocation import end_sockets
from web.services import Services, services

if TYPE_CHECKING:
    from crm.users.models import User

COOKIE = "cc_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer …` header (never a URL: URLs reach logs)."""
    header = headers.get("authorization", "")
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
    caller = await authenticate(
        svc, cookie=request.cookies.get(COOKIE), bearer=bearer_token(request.headers)
    )
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


def _retry_message(wait: timedelta) -> str:
    seconds = math.ceil(wait.total_seconds())
    return f"too many failed logins; try again in {seconds} s"


async def _reserve_check(
    svc: Services, attempt: throttle.Attempt
) -> throttle.Reservation | Response:
    """Pay for one password check before making it (crm/users/throttle.py); the delays this
    charge starts are audited once, here."""
    at = svc.clock.now()
    async with svc.database.session() as session:
        known = await throttle.known_address(session, attempt, at=at)
    try:
        async with svc.database.session() as session:
            reservation = await throttle.reserve(session, attempt, known_address=known, at=at)
            for rule, failures in reservation.engaged:
                await audit.record(
                    session,
                    actor=attempt.username,
                    action="login_throttled",
                    entity_type="user",
                    entity_id=attempt.username,
                    detail={
                        "scope": rule.scope,
                        "failures": failures,
                        "delay_seconds": rule.delay(failures).total_seconds(),
                    },
                    ip=attempt.address,
                    at=at,
                )
    except throttle.Throttled as refused:
        return problem(
            429,
            "too_many_attempts",
            _retry_message(refused.retry_after),
            headers={"Retry-After": str(math.ceil(refused.retry_after.total_seconds()))},
        )
    return reservation


async def _check_password(
    svc: Services, request: Request, credentials: Credentials
) -> User | Response:
    ip = _ip(request)
    attempt = throttle.Attempt(credentials.username[:64], ip)
    reservation = await _reserve_check(svc, attempt)
    if isinstance(reservation, Response):
        return reservation
    async with svc.database.session() as session:
        user = await users.authenticate(session, credentials.username, credentials.password)
    # The writes below start transactions of their own: on SQLite a read transaction that
    # turns into a write fails ("database is locked") when parallel logins wrote meanwhile.
    async with svc.database.session() as session:
        if user is None:
            await audit.record(
                session,
                actor=attempt.username,
                action="login_failed",
                entity_type="user",
                entity_id=attempt.username,
                ip=ip,
                at=svc.clock.now(),
            )
            return problem(401, "invalid_credentials", "wrong username or password")
        await throttle.succeeded(session, reservation, at=svc.clock.now())
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


@router.post("/logout", status_code=204, response_class=Response)
async def logout(
    response: Response, caller: Caller = Depends(current_caller), svc: Services = Depends(services)
) -> Response:
    async with svc.database.session() as session:
        await sessions.revoke(session, session_id=caller.session_id, at=svc.clock.now())
        await audit.record(
            session,
            actor=caller.user.username,
            action="logout",
            user_id=caller.id,
            at=svc.clock.now(),
        )
    end_sockets(svc, SocketsEnded(caller.id, (caller.session_id,), "logged out"))
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
