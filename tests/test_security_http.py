"""HTTP-level defences, whatever the route: security headers on every answer, request bodies
over the limit refused before they are read, and `next` after login kept on this site."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import Message

from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import PASSWORD, USERS, Api, running_app
from tests.support.live import free_port
from web.app import create_app
from web.body_limit import BodyLimit
from web.pages import PAGE_ROLES
from web.redirects import safe_next

on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LIMIT = 1_048_576  # the default CALLCENTRE_MAX_BODY_BYTES


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


# -- headers --------------------------------------------------------------------------------


def assert_secured(response: httpx.Response) -> None:
    policy = response.headers.get("content-security-policy", "")
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'", policy
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "permissions-policy" in response.headers


@on_sqlite
async def test_every_page_and_answer_carries_the_security_headers(api: Api) -> None:
    anonymous = api.anonymous()
    for response in (
        await anonymous.get("/login"),
        await anonymous.get("/console"),  # the redirect to the login page
        await anonymous.get("/api/auth/me"),  # 401
        await anonymous.get("/no-such-page"),  # 404
        await anonymous.get("/static/js/login.js"),
        await anonymous.get("/healthz"),
    ):
        assert_secured(response)
    for page, roles in PAGE_ROLES.items():
        user = next(u for u, (role, _) in USERS.items() if role in roles)
        response = await api[user].get(f"/{page}")
        assert response.status_code == 200, (page, user)
        assert_secured(response)
        assert response.headers["cache-control"] == "no-store"  # it holds a CSRF token
        # No inline script or style for the policy to refuse: only the JSON boot block.
        scripts = re.findall(r"<script\b([^>]*)>", response.text)
        assert all("src=" in s or 'type="application/json"' in s for s in scripts), scripts
        assert "<style" not in response.text and " style=" not in response.text
        assert not re.search(r"\son[a-z]+=", response.text)  # no inline event handlers
    assert "cache-control" not in (await anonymous.get("/static/css/app.css")).headers


# -- request bodies -------------------------------------------------------------------------


@on_sqlite
async def test_a_declared_oversized_body_is_refused_without_reading_it(settings: Settings) -> None:
    """The middleware answers from Content-Length alone: the body is never asked for."""
    reached_app = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal reached_app
        reached_app = True

    limited = BodyLimit(app, max_bytes=settings.max_body_bytes)
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/auth/login",
        "headers": [(b"content-length", str(300 * 1024 * 1024).encode())],
    }
    await limited(scope, receive, send)
    assert not reached_app
    assert sent[0]["status"] == 413
    assert b"body_too_large" in sent[1]["body"]


@on_sqlite
async def test_a_streamed_oversized_body_stops_at_the_limit(api: Api) -> None:
    chunk = b"x" * 65_536
    pulled = 0

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(800):
            pulled += 1
            yield chunk

    response = await api.anonymous().post(
        "/api/auth/login",
        content=fifty_megabytes(),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["detail"][0]["code"] == "body_too_large"
    assert pulled <= LIMIT // len(chunk) + 2, pulled  # stopped reading at the limit
    assert_secured(response)


@on_sqlite
async def test_bodies_under_the_limit_are_read_as_before(api: Api) -> None:
    response = await api.anonymous().post(
        "/api/auth/login", json={"username": "agent1", "password": "x" * (LIMIT // 2)}
    )
    assert response.status_code == 422  # the password's own length limit, not the body's
    assert response.json()["detail"][0]["field"] == "password"


@on_sqlite
async def test_a_real_server_refuses_a_300_mb_login_at_once(
    db: Database, settings: Settings
) -> None:
    """Through uvicorn: only the headers and a few bytes are sent, the answer comes at once."""
    app = create_app(
        settings, database=db, with_bridge=False, with_transcription=False, clock=SystemClock()
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 314572800\r\n\r\n" + b'{"username": "' + b"a" * 1000
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 5)
        assert status.startswith(b"HTTP/1.1 413"), status
        assert time.monotonic() - started < 2
        writer.close()
    finally:
        server.should_exit = True
        await task


# -- where the browser goes after login -------------------------------------------------------

HOSTILE_NEXT = [
    "/\t/evil.example/",  # what `?next=/%09/evil.example/` decodes to
    "/\n/evil.example/",
    "/\r\n/evil.example/",
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/%09/evil.example/",  # decoded twice on the way
    "/%2F/evil.example/",
    "/%5Cevil.example/",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.example",
    " /console",
    "/a/..//evil.example/",
    "/\x00/evil",
    "/" + "a" * 3000,
]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_next_is_refused_unless_a_path_on_this_site(value: str) -> None:
    assert safe_next(value) == "/"


@pytest.mark.parametrize(
    "value", ["/console", "/qa?call=12", "/complaints?status=open&q=%E7%8E%8B", "/admin#users"]
)
def test_next_keeps_paths_on_this_site(value: str) -> None:
    assert safe_next(value) == value


@on_sqlite
async def test_the_login_page_hands_the_script_only_a_safe_next(api: Api) -> None:
    anonymous = api.anonymous()
    page = await anonymous.get("/login", params={"next": "/\t/evil.example/"})
    assert 'data-next="/"' in page.text and "evil.example" not in page.text
    page = await anonymous.get("/login?next=/%09/evil.example/")
    assert 'data-next="/"' in page.text and "evil.example" not in page.text
    page = await anonymous.get("/login", params={"next": "/qa?call=3"})
    assert 'data-next="/qa?call=3"' in page.text
    # Already signed in: the "continue" link goes where `next` says, if it may.
    await anonymous.post("/api/auth/login", json={"username": "qa", "password": PASSWORD})
    page = await anonymous.get("/login", params={"next": "//evil.example/"})
    assert 'href="/"' in page.text and "evil.example" not in page.text
