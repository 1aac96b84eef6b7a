"""Who may do what, for every route the app has: the routes are read from the app's own route
table and checked against the explicit table in tests/support/authz.py, for nobody logged in
and for each role. A route without an entry there fails here, and so does an entry for a
route that is gone.

API routes: nobody logged in gets 401, a role not admitted 403 `forbidden`, an admitted one
neither (its answer is the route's own business: 200, 404, 422 …). Pages: nobody logged in
is sent to /login, a role not admitted gets a 403 "no access" page naming the roles the page
is for and that an administrator grants them. The websocket: closed with 4401
for nobody logged in, open for every role."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from starlette.routing import Mount, WebSocketRoute
from starlette.types import Message

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from crm.users.models import Role
from tests.support.api import PASSWORD, USERS, Api, running_app
from tests.support.authz import PUBLIC, ROUTES
from tests.support.records import seed_records
from web.auth import COOKIE
from web.page_text import translate
from web.pages import HOME, PAGE_ROLES

CLIENTS = {role: name for name, (role, _) in reversed(USERS.items())}  # agent1, not agent2
STATIC_FILE = "/static/css/app.css"
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Starlette for every GET route


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, websockets and mounts included."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:  # FastAPI before included routers were kept apart
        routes = list(app.routes)
    found = set()
    for route in routes:
        original = getattr(route, "original_route", route)
        if isinstance(original, APIWebSocketRoute | WebSocketRoute):
            found.add(("WEBSOCKET", route.path))
        elif isinstance(original, Mount):
            found.add(("GET", route.path))
        else:
            found |= {(m, route.path) for m in route.methods or () if m not in IGNORED_METHODS}
    return found


@pytest.fixture
async def api(db: Database, settings: Settings, clock: FixedClock) -> AsyncIterator[Api]:
    async with running_app(settings, db, clock=clock) as running:
        yield running


async def _fresh_client(api: Api, username: str) -> httpx.AsyncClient:
    """A login of its own (logging out must not end the session the matrix uses)."""
    client = api.anonymous()
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


async def _websocket(app: FastAPI, cookie: str | None) -> str:
    """Open /ws the way a browser does; "accepted", or the close code."""
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
        "state": {},
    }
    answered = asyncio.Event()
    outcome: list[str] = []
    connected = False

    async def receive() -> Message:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await answered.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        if message["type"] == "websocket.accept":
            outcome.append("accepted")
        elif message["type"] == "websocket.close" and not outcome:
            outcome.append(str(message.get("code")))
        answered.set()

    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return outcome[0]


def page_paths(app: FastAPI) -> set[str]:
    """The HTML pages (web/pages.py): they redirect instead of answering 401/403."""
    try:
        from fastapi.routing import iter_route_contexts

        routes: list[Any] = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = list(app.routes)
    return {
        route.path
        for route in routes
        if getattr(getattr(route, "endpoint", None), "__module__", None) == "web.pages"
    }


def assert_no_access_page(
    response: httpx.Response, *, allowed: object, role: Role, lang: str
) -> None:
    """A 403 page in `lang` naming the roles the page is for, the caller's own, and who
    grants roles (an administrator), with a way back to the caller's home."""
    url = str(response.request.url)
    assert response.status_code == 403, (role, url)
    assert response.headers["content-type"].startswith("text/html"), (role, url)
    html = response.text
    assert f'<html lang="{lang}"' in html, (role, url)
    assert translate(lang, "forbidden.heading") in html, (role, url)
    assert isinstance(allowed, tuple | frozenset | set), allowed
    named = set(re.findall(r'<li data-role="(\w+)"[^>]*>([^<]+)</li>', html))
    assert named == {(r, translate(lang, f"role.{r}")) for r in allowed}, (role, url, named)
    page = urlsplit(url).path.strip("/")
    title = translate(lang, f"header.{page}")
    assert translate(lang, "forbidden.page_for", {"page": title}) in html, (role, url)
    assert translate(lang, "forbidden.who_grants") in html, (role, url)
    grants = translate(lang, "forbidden.who_grants").lower()
    assert translate(lang, "role.admin").lower() in grants, lang  # an administrator grants
    assert f'href="{HOME[role]}"' in html, (role, url)


def _problem_code(response: httpx.Response) -> str | None:
    try:
        return response.json()["detail"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None


async def test_every_route_is_in_the_table(api: Api) -> None:
    served = app_routes(api.app)
    assert served - set(ROUTES) == set(), "routes missing from tests/support/authz.py"
    assert set(ROUTES) - served == set(), "entries in tests/support/authz.py for no route"


async def test_every_route_admits_exactly_the_roles_the_table_names(
    api: Api, db: Database, clock: FixedClock
) -> None:
    ids = await seed_records(api, db, clock.now())
    pages = page_paths(api.app)
    anonymous = api.anonymous()
    checked = 0
    for (method, path), who in sorted(ROUTES.items()):
        url = STATIC_FILE if path == "/static" else path.format(**ids)
        page = path in pages
        if method == "WEBSOCKET":
            assert await _websocket(api.app, None) == "4401"
            for role, name in CLIENTS.items():
                cookie = api[name].cookies.get(COOKIE)
                expected = "accepted" if role in who else "4403"
                assert await _websocket(api.app, cookie) == expected, (role, path)
            checked += 1 + len(CLIENTS)
            continue
        body: dict[str, object] | None = {} if method in ("POST", "PUT", "PATCH") else None
        response = await anonymous.request(method, url, json=body)
        if who == PUBLIC:
            assert response.status_code not in (401, 403), (method, url, response.text)
        elif page:
            assert response.status_code == 303, (method, url)
            assert response.headers["location"].startswith("/login"), (method, url)
        else:
            assert response.status_code == 401, (method, url, response.text)
        for role, name in CLIENTS.items():
            client = await _fresh_client(api, name) if path == "/api/auth/logout" else api[name]
            response = await client.request(method, url, json=body)
            checked += 1
            if page and path == "/":  # "/" sends each to their home
                assert response.status_code == 303, (role, method, url)
                assert response.headers["location"] == HOME[Role(role)], (role, url)
            elif page and role not in who:
                assert_no_access_page(response, allowed=who, role=Role(role), lang="zh-CN")
            elif role in who:
                assert response.status_code != 401, (role, method, url, response.text)
                assert not (
                    response.status_code == 403
                    and _problem_code(response) in ("forbidden", "csrf_failed")
                ), (role, method, url, response.text)
                if page:
                    assert response.status_code == 200, (role, method, url)
            else:
                assert response.status_code == 403, (role, method, url, response.text)
                assert _problem_code(response) == "forbidden", (role, method, url)
        checked += 1
    # Every route, nobody logged in and each of the five roles.
    assert checked == len(ROUTES) * (1 + len(CLIENTS))


async def test_every_page_refuses_every_other_role_in_words_in_both_languages(api: Api) -> None:
    """Each page, each role it is not for, in Chinese and in English: the 403 page names the
    page's roles in that language (the matrix above checks the default, Chinese)."""
    checked = 0
    for page, allowed in PAGE_ROLES.items():
        for role, name in CLIENTS.items():
            if role in allowed:
                continue
            for lang in ("zh-CN", "en"):
                response = await api[name].get(f"/{page}", params={"lang": lang})
                assert_no_access_page(response, allowed=allowed, role=Role(role), lang=lang)
                checked += 1
    assert checked == 2 * sum(len(CLIENTS) - len(roles) for roles in PAGE_ROLES.values())
    assert checked >= 20
