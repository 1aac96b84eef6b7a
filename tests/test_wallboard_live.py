"""The wallboard against the PBX simulator through the real server: a call waits, is answered,
ends; another is abandoned — the snapshot API and the websocket pushes follow each step."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin

from crm.db import Database
from tests.support.live import LiveSystem, live_system
from tests.support.waiting import until
from tests.support.ws_schema import checked

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    # One simulated second is 0.2 s: a caller nobody answers waits 12 s (the queue's 60).
    async with live_system(db, tmp_path, time_scale=0.2) as running:
        yield running


class Wallboard:
    """A supervisor's websocket, keeping the wallboard snapshots it is sent."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.snapshots: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            message = checked(json.loads(raw))  # its declared model (web/ws_messages.py)
            if message.get("type") == "wallboard":
                self.snapshots.append(message)

    def latest(self) -> dict[str, Any] | None:
        return self.snapshots[-1] if self.snapshots else None

    def queue(self, name: str = "service") -> dict[str, Any]:
        latest = self.latest()
        assert latest is not None
        return next(q for q in latest["queues"] if q["queue"] == name)

    def agent(self, extension: str) -> dict[str, Any]:
        latest = self.latest()
        assert latest is not None
        return next(a for a in latest["agents"] if a["extension"] == extension)

    async def wait(self, check: Any, timeout: float = 10) -> dict[str, Any]:
        def ok() -> bool:
            try:
                return bool(self.latest() and check(self))
            except (StopIteration, KeyError):
                return False

        await until(ok, timeout)
        latest = self.latest()
        assert latest is not None
        return latest

    async def close(self) -> None:
        await self.socket.close()
        await asyncio.gather(self.reader, return_exceptions=True)


async def _wallboard(system: LiveSystem, client: httpx.AsyncClient) -> Wallboard:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    socket = await websockets.connect(
        system.ws_url, additional_headers={"Cookie": cookie}, origin=Origin(system.url)
    )
    hello = checked(json.loads(await socket.recv()))
    assert hello["type"] == "hello"
    return Wallboard(socket)


async def test_wallboard_follows_a_waiting_answered_and_abandoned_call(system: LiveSystem) -> None:
    boss = await system.login("supervisor")
    agent = await system.login("agent1")
    board = await _wallboard(system, boss)
    first = await board.wait(lambda b: b.queue()["waiting"] == 0)
    assert first["threshold_seconds"] == 15 and first["pbx_connected"] is True
    assert {q["queue"] for q in first["queues"]} >= {"service", "callbacks"}
    assert board.agent("1001")["status"] == "logged_out"

    # Nobody is ready: the caller waits in the queue. agent1 is logged in but paused: with
    # nobody logged in at all the queue would refuse the caller (joinempty, as the
    # inbound_joinempty capture shows) instead of letting it wait.
    await agent.put("/api/agent/state", json={"status": "paused", "reason": "training"})
    await board.wait(lambda b: b.agent("1001")["status"] == "paused")
    linkedid = await system.sim.place_inbound_call("13800138000", answer_after=2, talk_seconds=10)
    waiting = await board.wait(lambda b: b.queue()["waiting"] == 1)
    service = board.queue()
    assert service["oldest_waiting_since"] is not None and service["offered"] == 0
    assert waiting["server_time"] >= service["oldest_waiting_since"]

    # agent1 goes ready: the queue rings the phone, which answers after 2 (simulated) s.
    await agent.put("/api/agent/state", json={"status": "ready"})
    await board.wait(lambda b: b.agent("1001")["status"] in ("ready", "on_call"))
    await board.wait(lambda b: b.queue()["answered"] == 1)
    service = board.queue()
    assert (service["waiting"], service["offered"], service["abandoned"]) == (0, 1, 0)
    assert service["average_speed_of_answer"] is not None
    on_call = await board.wait(lambda b: b.agent("1001")["status"] == "on_call")
    assert board.agent("1001")["handled"] == 1 and board.agent("1002")["handled"] == 0
    assert on_call["agents"]

    # The call ends: wrap-up (1 s here), then ready again; the talk time is counted.
    await board.wait(lambda b: b.agent("1001")["status"] == "wrapup")
    await board.wait(lambda b: b.agent("1001")["status"] == "ready", timeout=10)
    assert board.agent("1001")["talk_seconds"] > 0
    await system.sim.wait_calls()

    # agent1 pauses; the next caller gives up after 2 simulated seconds.
    await agent.put("/api/agent/state", json={"status": "paused", "reason": "lunch"})
    await system.sim.place_inbound_call("13900139000", abandon=2)
    await board.wait(lambda b: b.queue()["abandoned"] == 1)
    service = board.queue()
    assert (service["offered"], service["answered"], service["abandon_rate"]) == (2, 1, 50.0)
    assert board.agent("1001")["status"] == "paused" and board.agent("1001")["reason"] == "lunch"

    # The snapshot API says the same; agents may not read it.
    await system.sim.wait_calls()
    await system.bridge.drain()
    response = await boss.get("/api/wallboard")
    assert response.status_code == 200
    api_service = next(q for q in response.json()["queues"] if q["queue"] == "service")
    assert (api_service["offered"], api_service["answered"], api_service["abandoned"]) == (2, 1, 1)
    hours = response.json()["hours"]
    assert sum(h["answered"] for h in hours) == 1 and sum(h["abandoned"] for h in hours) == 1
    assert (await agent.get("/api/wallboard")).status_code == 403
    assert linkedid
    await board.close()
    for client in (boss, agent):
        await client.aclose()


async def test_no_wallboard_for_agents_and_no_pushes_without_watchers(system: LiveSystem) -> None:
    agent = await system.login("agent1")
    cookie = "; ".join(f"{k}={v}" for k, v in agent.cookies.items())
    socket = await websockets.connect(
        system.ws_url, additional_headers={"Cookie": cookie}, origin=Origin(system.url)
    )
    board = Wallboard(socket)
    await agent.put("/api/agent/state", json={"status": "ready"})
    await system.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=1)
    await system.sim.wait_calls()
    await asyncio.sleep(1.5)
    assert board.snapshots == []  # an agent's socket never carries the wallboard
    assert system.app.state.wallboard.pushes == 0  # nobody watching: nothing computed
    await board.close()
    await agent.aclose()
