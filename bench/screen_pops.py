"""Screen-pop latency with 500 agents connected and 20 new calls a second.

Real path: the PBX simulator writes `AgentCalled` on the AMI socket → the server (uvicorn,
the real app: bridge, tracker, customer lookup and card, outbox) → the agent's websocket
client receives the pop. Latency = pop received − AgentCalled written (same clock, same
process). Each agent is the one static member of its own queue, so every call rings exactly
one agent. Baseline: a bare `websockets` server pushing a message to one of 500 connected
clients at the same rate, timed from send to receipt, in the same process.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
import websockets
from websockets.typing import Origin

from bench.common import finish, latency_summary, migrated_sqlite, ratio, say, scratch_dir
from bench.data import load_customers, mobile
from crm.db import Database
from crm.settings import load_settings
from crm.users import service as users
from crm.users import sessions
from crm.users.models import Role, SessionKind, User
from telephony.pbx_sim import PbxSimulator, SimulatorConfig, StaticMember
from web.app import create_app
from web.auth import COOKIE

GOAL_P99_MS = 50.0
_LINKEDID = re.compile(rb"\r\nLinkedid: ([^\r]+)")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _agents(database: Database, count: int) -> list[tuple[str, str]]:
    """`count` agents with extensions 2000.., each with a browser session; (extension, token)."""
    password_hash = users.hash_password("bench-pass-1")  # one hash: logins are not measured
    now = database_now()
    out = []
    async with database.session() as session:
        agents = [User(username=f"agent{2000 + i}", password_hash=password_hash,
                       display_name=f"坐席{2000 + i}", role=Role.AGENT,
                       extension=str(2000 + i)) for i in range(count)]
        session.add_all(agents)
        await session.flush()
        for agent in agents:
            token, _ = await sessions.create(session, user=agent, kind=SessionKind.BROWSER,
                                             at=now, lifetime=timedelta(hours=8))
            out.append((str(agent.extension), token))
    return out


def database_now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


class _Client:
    def __init__(self, url: str, origin: str, token: str) -> None:
        self.url, self.origin, self.token = url, origin, token
        self.received: dict[str, float] = {}
        self.socket: Any = None

    async def connect(self) -> None:
        self.socket = await websockets.connect(
            self.url, additional_headers={"Cookie": f"{COOKIE}={self.token}"},
            origin=Origin(self.origin), max_size=None)
        hello = json.loads(await self.socket.recv())
        assert hello["type"] == "hello", hello

    async def read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message.get("type") == "pop":
                self.received.setdefault(message["call"]["linkedid"], time.perf_counter())


async def _real(directory: Path, url: str, agents: int, rate: float, seconds: float
                ) -> list[float]:
    database = Database(url)
    await load_customers(database, 10_000)
    extensions = [str(2000 + i) for i in range(agents)]
    sim = PbxSimulator(SimulatorConfig(
        port=0, secret="bench-secret", seed=5, recordings_dir=directory / "recordings",
        queues=tuple(f"q{e}" for e in extensions),
        static_members={f"q{e}": [StaticMember(f"PJSIP/{e}", name=f"坐席{e}")]
                        for e in extensions}))
    written: dict[str, float] = {}
    broadcast = sim.broadcast

    def timed_broadcast(data: bytes) -> None:
        if data.startswith(b"Event: AgentCalled\r\n"):
            found = _LINKEDID.search(data)
            if found:
                written.setdefault(found.group(1).decode(), time.perf_counter())
        broadcast(data)

    sim.broadcast = timed_broadcast  # type: ignore[method-assign]
    _, ami_port = await sim.start()
    settings = load_settings(database_url=url, ami_port=ami_port, ami_secret="bench-secret",
                             default_area_code="029", recordings_dir=directory / "recordings",
                             dialer_enabled=False, secret_key="bench-secret-key-" + "x" * 32)
    tokens = await _agents(database, agents)
    app = create_app(settings, database=database)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           ws="websockets-sansio", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    clients: list[_Client] = []
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        while not app.state.services.bridge.client.connected:
            await asyncio.sleep(0.02)
        origin = f"http://127.0.0.1:{port}"
        clients = [_Client(f"ws://127.0.0.1:{port}/ws", origin, token) for _, token in tokens]
        for start in range(0, len(clients), 50):
            await asyncio.gather(*(c.connect() for c in clients[start:start + 50]))
        readers = [asyncio.create_task(c.read()) for c in clients]
        say(f"  {len(clients)} agents connected; placing {rate:g} calls/s for {seconds:g} s")
        rng = random.Random(9)
        linked: dict[str, int] = {}
        begin = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            agent = rng.randrange(len(extensions))
            linkedid = await sim.place_inbound_call(
                mobile(rng.randrange(10_000)), queue=f"q{extensions[agent]}",
                answer_after=1.0, talk_seconds=2.0)
            linked[linkedid] = agent
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline and any(
                lid not in clients[a].received for lid, a in linked.items()):
            await asyncio.sleep(0.05)
        latencies = [clients[a].received[lid] - written[lid] for lid, a in linked.items()
                     if lid in clients[a].received and lid in written]
        missing = len(linked) - len(latencies)
        if missing:
            say(f"  WARNING: {missing} of {len(linked)} pops not received")
        for reader in readers:
            reader.cancel()
        return latencies
    finally:
        for client in clients:
            if client.socket is not None:
                await client.socket.close()
        server.should_exit = True
        await serving
        await sim.stop()
        await database.dispose()


async def _baseline(agents: int, rate: float, seconds: float) -> list[float]:
    """A bare websocket push to one of `agents` connected clients, `rate` times a second."""
    connections: list[Any] = []

    async def handler(connection: Any) -> None:
        connections.append(connection)
        await connection.wait_closed()

    received: dict[int, float] = {}

    async def read(socket: Any) -> None:
        async for raw in socket:
            received[json.loads(raw)["n"]] = time.perf_counter()

    async with websockets.serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        clients = [await websockets.connect(f"ws://127.0.0.1:{port}") for _ in range(agents)]
        readers = [asyncio.create_task(read(c)) for c in clients]
        while len(connections) < agents:
            await asyncio.sleep(0.01)
        rng, sent = random.Random(9), {}
        payload = {"type": "pop", "call": {"linkedid": "x" * 20}, "customer": {"name": "客户"}}
        begin = time.perf_counter()
        for n in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, begin + n / rate - time.perf_counter()))
            sent[n] = time.perf_counter()
            await connections[rng.randrange(agents)].send(json.dumps({**payload, "n": n}))
        deadline = time.perf_counter() + 5
        while len(received) < len(sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        for reader in readers:
            reader.cancel()
        for client in clients:
            await client.close()
    return [received[n] - sent[n] for n in sent if n in received]


def run(quick: bool = False) -> dict[str, Any]:
    agents, rate, seconds = (10, 5.0, 2.0) if quick else (500, 20.0, 20.0)
    say(f"Screen pops: {agents} agents connected, {rate:g} new calls/s for {seconds:g} s")
    base = latency_summary(asyncio.run(_baseline(agents, rate, seconds)))
    say(f"  bare websocket push: p50 {base['p50_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms, "
        f"max {base['max_ms']:.2f} ms")
    with scratch_dir("pops") as directory:
        url = migrated_sqlite(directory)
        latencies = asyncio.run(_real(directory, url, agents, rate, seconds))
    mine = latency_summary(latencies)
    say(f"  AgentCalled → pop: p50 {mine['p50_ms']:.2f} ms, p99 {mine['p99_ms']:.2f} ms, "
        f"max {mine['max_ms']:.2f} ms ({mine['samples']} pops)")
    met = mine["p99_ms"] < GOAL_P99_MS and mine["samples"] == int(rate * seconds)
    say(f"  p99 goal < {GOAL_P99_MS:g} ms: {'met' if met else 'NOT met'}; "
        f"{ratio(mine['p99_ms'], base['p99_ms']):.1f}× the bare push (p99)")
    return finish("screen_pops", {
        "agents": agents, "calls_per_second": rate, "seconds": seconds,
        "calls": int(rate * seconds), "pop": mine, "baseline": base,
        "ratio_p50": ratio(mine["p50_ms"], base["p50_ms"]),
        "ratio_p99": ratio(mine["p99_ms"], base["p99_ms"]),
        "goal_p99_ms": GOAL_P99_MS, "goal_met": met})
