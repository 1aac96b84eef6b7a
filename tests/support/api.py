"""Running the app in-process for API tests: lifespan started, users per role logged in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings
from crm.users import service as users
from crm.users.models import Role
from tests.support.clock import real_pace
from web.app import create_app

PASSWORD = "password-1"
USERS = {  # username: (role, extension)
    "agent1": (Role.AGENT, "1001"),
    "agent2": (Role.AGENT, "1002"),
    "supervisor": (Role.SUPERVISOR, None),
    "qa": (Role.QA, None),
    "admin": (Role.ADMIN, None),
    "engineering": (Role.DEPARTMENT, None),  # 工程部
}
DEPARTMENTS = {"engineering": "工程部"}


@dataclass
class Api:
    app: FastAPI
    base_url: str
    transport: httpx.ASGITransport
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    csrf: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def anonymous(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url=self.base_url)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = self.anonymous()
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        token = response.json()["csrf_token"]
        client.headers["X-CSRF-Token"] = token
        self.clients[username] = client
        self.csrf[username] = token
        return client

    def __getitem__(self, username: str) -> httpx.AsyncClient:
        return self.clients[username]


@asynccontextmanager
async def running_app(
    settings: Settings, database: Database, *, clock: Clock | None = None, with_bridge: bool = False
) -> AsyncIterator[Api]:
    async with database.session() as session:
        ids = {}
        for username, (role, extension) in USERS.items():
            existing = await users.get_by_username(session, username)
            user = existing or await users.create(
                session,
                username=username,
                password=PASSWORD,
                display_name=username.upper(),
                role=role,
                extension=extension,
                department=DEPARTMENTS.get(username),
            )
            ids[username] = user.id
    app = create_app(settings, database=database, clock=real_pace(clock), with_bridge=with_bridge)
    async with app.router.lifespan_context(app):
        api = Api(app, "http://testserver", httpx.ASGITransport(app=app), ids=ids)
        for username in USERS:
            await api.login(username)
        try:
            yield api
        finally:
            for client in api.clients.values():
                await client.aclose()
