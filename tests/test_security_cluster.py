"""Ending a session closes its websockets on every web process: two `callcentre serve --role
web` subprocesses joined by Redis, one user's sockets open on both; a logout on one process
and a password change on the other each close every matching socket within a second. Then
nothing either process printed holds a secret the session used."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from crm.db import Database
from crm.users import service as users
from crm.users.models import Role
from tests.support.cluster import Cluster, Node
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer
from web.auth import COOKIE

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(120),
]

PASSWORD = "cluster-password-1"
NEW_PASSWORD = "cluster-password-2"
AMI_SECRET = "cluster-ami-secret-3"
SECRET_KEY = "cluster-secret-key-4"


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer, pg_template: str) -> str:
    name = f"security_cluster_{os.getpid()}"
    postgres.psql(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    return postgres.url(name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def webs(
    database_url: str, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Node, Node]]:
    database = Database(database_url)
    async with database.session() as session:
        for username, role, extension in (
            ("agent1", Role.AGENT, "1001"),
            ("agent2", Role.AGENT, "1002"),
            ("admin", Role.ADMIN, None),
        ):
            await users.create(
                session,
                username=username,
                password=PASSWORD,
                display_name=username,
                role=role,
                extension=extension,
            )
    await database.dispose()
    root = tmp_path_factory.mktemp("security-cluster")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    env |= {
        "CALLCENTRE_DATABASE_URL": database_url,
        "CALLCENTRE_REDIS_URL": redis_server.url,
        "CALLCENTRE_SECRET_KEY": SECRET_KEY,
        "CALLCENTRE_AMI_SECRET": AMI_SECRET,
        "CALLCENTRE_RECORDINGS_DIR": str(root / "recordings"),
    }
    cluster = Cluster(root, env)
    try:
        nodes = (cluster.start("web-a", "web", http=True), cluster.start("web-b", "web", http=True))
        for node in nodes:
            await cluster.wait_log(node, "Application startup complete")
        yield nodes
    finally:
        cluster.stop()


async def _login(node: Node, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=node.url, timeout=10)
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


async def _socket(node: Node, cookie: str) -> ClientConnection:
    socket = await websockets.connect(
        node.ws_url, additional_headers={"Cookie": f"{COOKIE}={cookie}"}, origin=Origin(node.url)
    )
    assert json.loads(await socket.recv())["type"] == "hello"
    return socket


async def _closed_within_a_second(sockets: list[ClientConnection]) -> list[tuple[int, str]]:
    async def closed(socket: ClientConnection) -> tuple[int, str]:
        try:
            while True:
                await socket.recv()
        except websockets.ConnectionClosed as ended:
            assert ended.rcvd is not None, "no close frame"
            return ended.rcvd.code, ended.rcvd.reason

    started = time.monotonic()
    codes = await asyncio.wait_for(asyncio.gather(*(closed(s) for s in sockets)), 1.0)
    assert time.monotonic() - started < 1.0
    return list(codes)


async def test_an_ended_session_closes_its_sockets_on_every_web_process(
    webs: tuple[Node, Node],
) -> None:
    web_a, web_b = webs
    secrets = [PASSWORD, NEW_PASSWORD, AMI_SECRET, SECRET_KEY]

    agent1 = await _login(web_a, "agent1")
    cookie = agent1.cookies[COOKIE]
    secrets += [cookie, agent1.headers["X-CSRF-Token"]]
    sockets = [await _socket(web_a, cookie), await _socket(web_b, cookie)]
    assert (await agent1.post("/api/auth/logout")).status_code == 204  # on web-a
    assert await _closed_within_a_second(sockets) == [(4401, "logged out")] * 2
    await agent1.aclose()

    agent2, admin = await _login(web_b, "agent2"), await _login(web_b, "admin")
    for client in (agent2, admin):
        secrets += [client.cookies[COOKIE], client.headers["X-CSRF-Token"]]
    sockets = [
        await _socket(web_a, agent2.cookies[COOKIE]),
        await _socket(web_b, agent2.cookies[COOKIE]),
    ]
    agent2_id = (await agent2.get("/api/auth/me")).json()["user"]["id"]
    changed = await admin.patch(f"/api/users/{agent2_id}", json={"password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text  # on web-b
    assert await _closed_within_a_second(sockets) == [(4401, "password changed")] * 2
    for client in (agent2, admin):
        await client.aclose()

    await asyncio.sleep(0.3)
    printed = web_a.output() + web_b.output()
    assert "closed 1 websocket(s) of user" in web_a.output()  # the other process's event
    leaked = [s[:4] + "…" for s in secrets if s in printed]
    assert leaked == [], f"secrets in the processes' logs: {leaked}"
