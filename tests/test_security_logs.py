"""No secret and no customer's phone number in the server's log: a real `callcentre -v serve`
(debug logging, as the demo and production run it, uvicorn included) through a whole
session — a wrong password, logins, an API token, websockets opened every way (and once with
the token in the URL, refused), a password change, logouts — then every secret that session
used is looked for in all it printed; and through a customer's calls — a pop on the
simulator, a callback dial, a search by number — after which the number is looked for in
every form it was written, the masked form being allowed (web/log_phones.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.typing import Origin, Subprotocol

from crm.clock import SystemClock
from crm.customers import service as customers
from crm.db import Database
from crm.users import service as users
from crm.users.models import Role
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.support.cluster import open_calling_day
from tests.support.live import free_port
from web import log_redaction
from web.auth import COOKIE
from web.log_phones import mask_phones
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


@dataclass
class Server:
    url: str
    log: Path  # everything the server printed
    sim: PbxSimulator


@pytest.fixture
async def server(db: Database, tmp_path: Path, log_format: str) -> AsyncIterator[Server]:
    """The server, the file holding everything it printed, and its PBX."""
    await _seed(db)
    sim = PbxSimulator(
        SimulatorConfig(
            port=0,
            user="callcentre",
            secret=AMI_SECRET,
            seed=1,
            recordings_dir=tmp_path / "recordings",  # not ./var: parallel workers share that
        ),
        clock=SystemClock(),
    )
    _, ami_port = await sim.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    env |= {
        "CALLCENTRE_DATABASE_URL": db.url,
        "CALLCENTRE_AMI_PORT": str(ami_port),
        "CALLCENTRE_AMI_SECRET": AMI_SECRET,
        "CALLCENTRE_SECRET_KEY": SECRET_KEY,
        "CALLCENTRE_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CALLCENTRE_LOG_FORMAT": log_format,
        **open_calling_day(tmp_path),  # the test dials, at whatever hour it runs
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
        yield Server(url, log, sim)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
        await sim.stop()


def _printed(log: Path, log_format: str) -> str:
    """All the server printed; in JSON, with each line's message and exception decoded too
    (escaped, they could hide what is looked for)."""
    printed = log.read_text(errors="replace")
    if log_format == "json":  # every line one object, uvicorn's too: read their messages
        lines = [json.loads(line) for line in printed.splitlines() if line]
        printed += "\n".join(f"{line['message']}\n{line.get('exception', '')}" for line in lines)
    return printed


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
    server: Server, log_format: str
) -> None:
    url, log = server.url, server.log
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

    printed = _printed(log, log_format)
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


MOBILE = "13912348765"
LANDLINE = "02987654321"  # Xi'an, as the customer wrote it: 029-8765 4321


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_customers_calls_leave_no_phone_number_in_the_servers_log(
    server: Server, db: Database, log_format: str
) -> None:
    """A pop for a known caller, a callback dial to the customer's landline and a search by
    number: the log speaks of them (masked), never with the number itself."""
    async with db.session() as session:
        customer = await customers.create(
            session, name="李秀兰", phones=[MOBILE, "029-8765 4321"], address="碑林区"
        )
    agent = await _login(server.url, "agent1", PASSWORD)
    socket = await websockets.connect(
        server.url.replace("http://", "ws://") + "/ws",
        additional_headers={"Cookie": f"{COOKIE}={agent.cookies[COOKIE]}"},
        origin=Origin(server.url),
    )
    assert json.loads(await socket.recv())["type"] == "hello"
    assert (await agent.put("/api/agent/state", json={"status": "ready"})).status_code == 200

    linkedid = await server.sim.place_inbound_call(
        "+86 139 1234 8765", extension="1001", answer_after=1, talk_seconds=1
    )
    async with asyncio.timeout(15):
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "pop":
                assert message["call"]["linkedid"] == linkedid
                assert message["customer"]["id"] == customer.id  # the number was read...
                break
    await server.sim.wait_calls()
    await asyncio.sleep(1.5)  # wrap-up ends: the agent is free to dial
    dialed = await agent.post("/api/calls/dial", json={"number": "029-8765-4321"})
    assert dialed.status_code == 202, dialed.text
    found = await agent.get("/api/customers", params={"q": "139 1234 8765"})
    assert [c["id"] for c in found.json()] == [customer.id]
    await socket.close()
    assert (await agent.post("/api/auth/logout")).status_code == 204
    await agent.aclose()
    await asyncio.sleep(0.3)  # the server writes its last lines

    printed = _printed(server.log, log_format)
    # ...the log speaks of the pop and the dial, masked...
    assert f"pop: call {linkedid} from +86139****8765 rings 1001" in printed, printed[-3000:]
    assert "agent 1001 dials 029****4321" in printed
    written = [MOBILE, "139 1234 8765", "139-1234-8765", LANDLINE, "8765 4321", "87654321"]
    leaked = [form for form in written if form in printed]
    assert leaked == [], f"phone numbers in the server's log: {leaked}"  # ...not of whose


@pytest.mark.parametrize(
    ("text", "logged"),
    [
        ("13812345678", "138****5678"),
        ("caller=13812345678,", "caller=138****5678,"),
        ("138 1234 5678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "+86 138****5678"),
        ("+8613812345678", "+86138****5678"),
        ("+86-138-1234-5678", "+86-138****5678"),
        ("008613812345678", "0086138****5678"),
        ("8613812345678", "86138****5678"),  # a SIP caller id
        ("19912345678 and 14712345678", "199****5678 and 147****5678"),
        ("PJSIP/13812345678-0000001a", "PJSIP/138****5678-0000001a"),
        ("Local/13812345678@callback-0000;1", "Local/138****5678@callback-0000;1"),
        ("来电13812345678已接通", "来电138****5678已接通"),
        ("call from 13812345678.", "call from 138****5678."),
        ("('13812345678', 10, 0)", "('138****5678', 10, 0)"),  # SQL parameters
        ("010-12345678", "010****5678"),
        ("01012345678", "010****5678"),
        ("(010) 1234 5678", "010****5678"),
        ("021 1234 5678", "021****5678"),
        ("029-8765-4321", "029****4321"),
        ("0755-1234567", "075****4567"),
        ("0755-12345678", "075*****5678"),
        ("075512345678", "075*****5678"),
        ("+86 10 12345678", "+86 101***5678"),
        ("rec_13812345678_1733212345.wav", "rec_138****5678_1733212345.wav"),
    ],
)
def test_customers_phone_numbers_are_masked(text: str, logged: str) -> None:
    assert mask_phones(text) == logged


@pytest.mark.parametrize(
    "text",
    [
        "1733212345.123",  # an Asterisk uniqueid / linkedid
        "linkedid 1733212345.13812345678",  # even with a phone-like sequence
        "1733212345123",  # a timestamp in milliseconds
        "213812345678",  # a longer run of digits
        "138123456789",
        "a13812345678",  # inside an identifier
        "13812345678b",
        "0x13812345678",
        "550e8400-e29b-41d4-a716-013812345678",  # a UUID's last group
        "port 5038, 8088",
        "2024-12-03 10:12:45",
        "20241203",
        "took 13.8123456789s",
        "3.13812345678",
        "12812345678",  # 12x is no mobile prefix
        "12345678",  # a landline without its area code is not told from an id
        "1001",  # an agent's extension
        "10.0.0.138:5060",
        "0123456789",  # 01x other than 010 is no area code
        "",
    ],
)
def test_what_is_not_a_phone_number_stays(text: str) -> None:
    assert mask_phones(text) == text


def test_a_record_is_masked_in_its_message_arguments_and_traceback() -> None:
    """Whatever carries the number: the format string, a text argument (the others kept in
    place for formatters that read them by position), a tuple's repr, an exception."""
    log_redaction.install()
    record = logging.getLogger("x").makeRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "call %s from %s (%d s)",
        ("1733212345.1", "13812345678", 5),
        None,
    )
    assert record.args == ("1733212345.1", "138****5678", 5)
    assert record.getMessage() == "call 1733212345.1 from 138****5678 (5 s)"
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "params %r", (("13812345678", 3),), None
    )
    assert record.getMessage() == "params ('138****5678', 3)"
    record = logging.getLogger("x").makeRecord(
        "x", logging.INFO, __file__, 1, "f-string 010-12345678", (), None
    )
    assert record.getMessage() == "f-string 010****5678"
    try:
        raise ValueError("no customer with 13812345678")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    text = logging.Formatter().format(record)
    assert "138****5678" in text and "13812345678" not in text
