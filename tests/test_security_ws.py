"""The websocket under hostile or careless clients, served by uvicorn as `callcentre serve`
serves it (web.server.web_config): no credential in the URL, frames the protocol has no place
for closed with a code and one log line, and a session that ends closes its sockets within a
second (logout, password change, deactivation, a new role)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin, Subprotocol

from crm.db import Database
from crm.settings import Settings
from tests.support.api import PASSWORD, Api, running_app
from tests.support.live import free_port
from web.auth import COOKIE
from web.server import web_config

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Served:
    api: Api
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    async def browser_socket(self, client: httpx.AsyncClient | str) -> ClientConnection:
        """A socket as the page opens it, with the client's session cookie (or this one)."""
        cookie = client if isinstance(client, str) else client.cookies[COOKIE]
        socket = await websockets.connect(
            self.ws_url,
            additional_headers={"Cookie": f"{COOKIE}={cookie}"},
            origin=Origin(self.url),
        )
        assert json.loads(await socket.recv())["type"] == "hello"
        return socket

    async def api_token(self, username: str) -> str:
        async with httpx.AsyncClient(base_url=self.url) as client:
            response = await client.post(
                "/api/auth/tokens", json={"username": username, "password": PASSWORD}
            )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


@pytest.fixture
async def served(db: Database, settings: Settings) -> AsyncIterator[Served]:
    async with running_app(settings, db) as api:  # its lifespan runs; uvicorn's need not
        port = free_port()
        server = uvicorn.Server(web_config(api.app, host="127.0.0.1", port=port, lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.02)
        try:
            yield Served(api, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await task


@pytest.fixture
def server_log() -> Iterator[list[logging.LogRecord]]:
    """Every record of the server's loggers (uvicorn's do not reach the root's caplog)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    loggers = [logging.getLogger(name) for name in ("uvicorn.error", "")]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


def _text(records: list[logging.LogRecord]) -> str:
    return "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in records
    )


async def _closed(socket: ClientConnection, within: float = 1.0) -> tuple[int | None, str]:
    """The close code and reason the server sent, waiting at most `within` seconds."""
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), within - (time.monotonic() - started))
    assert time.monotonic() - started < within
    received = closed.value.rcvd
    assert received is not None, "no close frame from the server"
    return received.code, received.reason


# -- credentials never in the URL -------------------------------------------------------------


async def test_a_token_in_the_url_is_refused_and_never_logged(
    served: Served, server_log: list[logging.LogRecord]
) -> None:
    token = await served.api_token("agent1")
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{served.ws_url}?token={token}")
    await asyncio.sleep(0.1)
    logged = _text(server_log)
    assert "WebSocket /ws?token=…" in logged  # uvicorn's line is there, its value is not
    assert "token in its URL" in logged
    assert token not in logged


async def test_api_clients_send_the_token_in_a_header_or_the_subprotocol(served: Served) -> None:
    token = await served.api_token("agent1")
    header = await websockets.connect(
        served.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    )
    assert json.loads(await header.recv())["user"]["username"] == "agent1"
    await header.close()
    offered = [Subprotocol("callcentre"), Subprotocol(f"bearer.{token}")]
    protocol = await websockets.connect(served.ws_url, subprotocols=offered)
    assert protocol.subprotocol == "callcentre"  # the token is not echoed back
    assert json.loads(await protocol.recv())["user"]["username"] == "agent1"
    await protocol.close()
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(served.ws_url, subprotocols=[Subprotocol("bearer.wrong")])


# -- frames the protocol has no place for -----------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00\x01binary", 1008),
        ("not json", 1008),
        ("[1, 2]", 1008),
        ("x" * 5000, 1009),
    ],
)
async def test_a_bad_frame_closes_with_a_code_and_one_log_line(
    served: Served, server_log: list[logging.LogRecord], frame: str | bytes, code: int
) -> None:
    client = await served.login("agent1")
    socket = await served.browser_socket(client)
    await socket.send('{"type": "ping"}')  # a JSON object is fine (and ignored)
    await socket.send(frame)
    assert (await _closed(socket))[0] == code
    await asyncio.sleep(0.1)
    lines = [r for r in server_log if "websocket" in r.getMessage().lower() and r.name == "web.ws"]
    assert len(lines) == 1, _text(server_log)
    assert not any(r.exc_info for r in server_log), _text(server_log)  # no traceback
    assert not any(r.levelno >= logging.ERROR for r in server_log), _text(server_log)
    await client.aclose()


# -- sessions that end close their sockets ----------------------------------------------------


async def test_logout_closes_that_sessions_sockets_within_a_second(served: Served) -> None:
    desk, phone = await served.login("agent1"), await served.login("agent1")
    desk_socket = await served.browser_socket(desk)
    phone_socket = await served.browser_socket(phone)
    ended_cookie = desk.cookies[COOKIE]
    assert (await desk.post("/api/auth/logout")).status_code == 204
    assert await _closed(desk_socket) == (4401, "logged out")
    # The other session's socket stays open and keeps receiving.
    state = await phone.put("/api/agent/state", json={"status": "ready"})
    assert state.status_code == 200
    message: dict[str, Any] = json.loads(await asyncio.wait_for(phone_socket.recv(), 2))
    assert message["type"] == "state"
    # A reconnect with the ended session is refused.
    with pytest.raises(websockets.InvalidStatus):
        await served.browser_socket(ended_cookie)
    await phone_socket.close()
    for client in (desk, phone):
        await client.aclose()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"is_active": False}, "deactivated"),
        ({"password": "a-new-password-1"}, "password changed"),
        ({"role": "qa", "clear_extension": True}, "role changed"),
    ],
)
async def test_an_admins_change_closes_every_socket_of_the_user(
    served: Served, change: dict[str, Any], reason: str
) -> None:
    agent = await served.login("agent2")
    token = await served.api_token("agent2")
    sockets = [
        await served.browser_socket(agent),
        await websockets.connect(
            served.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
        ),
    ]
    response = await served.api["admin"].patch(
        f"/api/users/{served.api.ids['agent2']}", json=change
    )
    assert response.status_code == 200, response.text
    for socket in sockets:
        assert await _closed(socket) == (4401, reason)
    await agent.aclose()
