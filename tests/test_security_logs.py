"""No secret in the server's log: a real `callcentre -v serve` (debug logging, as the demo and
production run it, uvicorn included) through a whole session — a wrong password, logins, an
API token, websockets opened every way (and once with the token in the URL, refused), a
password change, logouts — then every secret that session used is looked for in all it
printed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from crm.db import Database
from crm.users import service as users
from crm.users.models import Role
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.support.live import free_port
from web.auth import COOKIE
from web.log_redaction import redact_query

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-1"
WRONG_PASSWORD = "wrong-guess-7731"
NEW_PASSWORD = "a-fresh-password-2"
AMI_SECRET = "ami-secret-5512"
SECRET_KEY = "server-secret-key-8812"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "callcentre"
    return [str(script)] if script.exists() else [sys.executable, "-m", "web.cli"]


async def _seed(db: Database) -> None:
    async with db.session() as session:
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


@pytest.fixture(params=["text", "json"])
def log_format(request: pytest.FixtureRequest) -> str:
    """CALLCENTRE_LOG_FORMAT: the same session leaves no secret in either."""
    return str(request.param)


@pytest.fixture
async def server(db: Database, tmp_path: Path, log_format: str) -> AsyncIterator[tuple[str, Path]]:
    """The server's URL and the file holding everything it printed."""
    await _seed(db)
    sim = PbxSimulator(SimulatorConfig(port=0, user="callcentre", secret=AMI_SECRET, seed=1))
    _, ami_port = await sim.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    env |= {
        "CALLCENTRE_DATABASE_URL": db.url,
        "CALLCENTRE_AMI_PORT": str(ami_port),
        "CALLCENTRE_AMI_SECRET": AMI_SECRET,
        "CALLCENTRE_SECRET_KEY": SECRET_KEY,
        "CALLCENTRE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CALLCENTRE_LOG_FORMAT": log_format,
    }
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*_command(), "-v", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            while True:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                try:
                    health = await client.get("/healthz")
                    if health.status_code == 200 and health.json()["pbx"]["connected"]:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        yield url, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        await sim.stop()


async def _login(url: str, username: str, password: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=url, timeout=10)
    response = await client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


async def _until_closed(socket: websockets.ClientConnection) -> None:
    with pytest.raises(websockets.ConnectionClosed):
        async with asyncio.timeout(2):
            while True:
                await socket.recv()  # what was on its way, then the close


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_full_session_leaves_no_secret_in_the_servers_log(
    server: tuple[str, Path], log_format: str
) -> None:
    url, log = server
    ws_url = url.replace("http://", "ws://") + "/ws"
    secrets = [PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, AMI_SECRET, SECRET_KEY]
    async with httpx.AsyncClient(base_url=url) as anonymous:
        refused = await anonymous.post(
            "/api/auth/login", json={"username": "agent1", "password": WRONG_PASSWORD}
        )
        assert refused.status_code == 401
        token_response = await anonymous.post(
            "/api/auth/tokens", json={"username": "agent1", "password": PASSWORD, "label": "x"}
        )
    token = token_response.json()["token"]
    agent1 = await _login(url, "agent1", PASSWORD)
    agent2 = await _login(url, "agent2", PASSWORD)
    admin = await _login(url, "admin", PASSWORD)
    for client in (agent1, agent2, admin):
        secrets += [client.cookies[COOKIE], client.headers["X-CSRF-Token"]]
    secrets.append(token)

    cookie_socket = await websockets.connect(
        ws_url + "?epoch=x&since=0",
        additional_headers={"Cookie": f"{COOKIE}={agent2.cookies[COOKIE]}"},
        origin=Origin(url),
    )
    header_socket = await websockets.connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    )
    protocol_socket = await websockets.connect(
        ws_url, subprotocols=[Subprotocol("callcentre"), Subprotocol(f"bearer.{token}")]
    )
    for socket in (cookie_socket, header_socket, protocol_socket):
        assert json.loads(await socket.recv())["type"] == "hello"
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(f"{ws_url}?token={token}")
    assert (await agent1.put("/api/agent/state", json={"status": "ready"})).status_code == 200

    agent2_id = (await agent2.get("/api/auth/me")).json()["user"]["id"]
    changed = await admin.patch(f"/api/users/{agent2_id}", json={"password": NEW_PASSWORD})
    assert changed.status_code == 200
    await _until_closed(cookie_socket)  # the password change ended it
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}
    ) as api_client:
        assert (await api_client.post("/api/auth/logout")).status_code == 204  # token revoked
    for socket in (header_socket, protocol_socket):
        await _until_closed(socket)
    for client in (agent1, admin):
        assert (await client.post("/api/auth/logout")).status_code == 204
        await client.aclose()
    await agent2.aclose()
    await asyncio.sleep(0.3)  # the server writes its last lines

    printed = log.read_text(errors="replace")
    if log_format == "json":  # every line one object, uvicorn's too: read their messages
        lines = [json.loads(line) for line in printed.splitlines() if line]
        printed += "\n".join(str(line["message"]) for line in lines)
    assert '"WebSocket /ws?token=…" 403' in printed, printed[-3000:]  # the lines are there...
    assert "closed" in printed and "websocket" in printed
    leaked = [s[:4] + "…" for s in secrets if s in printed]
    assert leaked == [], f"secrets in the server's log: {leaked}"  # ...the secrets are not


def test_query_values_are_redacted_from_logged_paths() -> None:
    assert redact_query("/ws?token=abc&since=3") == "/ws?token=…&since=…"
    assert redact_query("/ws") == "/ws"
    assert redact_query("/ws?abc") == "/ws?abc=…"
    assert redact_query("/ws?") == "/ws"
    assert redact_query("127.0.0.1:5000") == "127.0.0.1:5000"
    assert redact_query("GET") == "GET"
