"""Screen pops over the websocket, end to end: simulator → AMI → bridge → pop → browser."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.typing import Origin

from crm.customers import service as customers
from crm.db import Database
from tests.support.live import LiveSystem, live_system
from tests.support.ws_schema import checked


class Browser:
    """What an agent's page does with the websocket: connect, remember the sequence, resume."""

    def __init__(self, system: LiveSystem, cookie: str) -> None:
        self.system = system
        self.cookie = cookie
        self.messages: list[dict[str, Any]] = []
        self.epoch: str | None = None
        self.last_seq = 0
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, *, resume: bool = False) -> dict[str, Any]:
        url = self.system.ws_url
        if resume and self.epoch:
            url += f"?epoch={self.epoch}&since={self.last_seq}"
        self._socket = await websockets.connect(
            url, additional_headers={"Cookie": self.cookie}, origin=Origin(self.system.url)
        )
        hello = checked(json.loads(await self._socket.recv()))
        assert hello["type"] == "hello"
        self.epoch = hello["epoch"]
        self._reader = asyncio.create_task(self._read())
        return hello

    async def _read(self) -> None:
        async for raw in self._socket:
            message = checked(json.loads(raw))  # its declared model (web/ws_messages.py)
            self.messages.append(message)
            self.last_seq = max(self.last_seq, message["seq"])

    async def close(self) -> None:
        await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def wait_for(self, kind: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages:
                if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                    return message
            assert time.monotonic() < deadline, f"no {kind} {fields}: {self.messages}"
            await asyncio.sleep(0.02)


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path) as running:
        yield running


async def _browser(system: LiveSystem, username: str) -> tuple[Browser, Any]:
    client = await system.login(username)
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    browser = Browser(system, cookie)
    await browser.connect()
    return browser, client


async def test_queue_call_pops_only_on_the_ringing_agent(system: LiveSystem, db: Database) -> None:
    async with db.session() as session:
        customer = await customers.create(
            session, name="王建国", phones=["13800138000"], address="雁塔区科技路1号"
        )
    agent1, http1 = await _browser(system, "agent1")
    agent2, http2 = await _browser(system, "agent2")
    response = await http1.put("/api/agent/state", json={"status": "ready"})
    assert response.json()["pbx_synced"] is True
    await agent1.wait_for("state", status="ready")

    linkedid = await system.sim.place_inbound_call(
        "+86 138 0013 8000", answer_after=2, talk_seconds=5
    )
    pop = await agent1.wait_for("pop")
    assert pop["call"]["linkedid"] == linkedid and pop["call"]["queue"] == "service"
    assert pop["call"]["direction"] == "inbound"  # the enum's word in the browser's JSON
    assert pop["customer"]["id"] == customer.id and pop["customer"]["name"] == "王建国"
    assert pop["customer"]["grade"] == "B" and pop["unknown_number"] is None
    await agent1.wait_for("answered", linkedid=linkedid)
    ended = await agent1.wait_for("ended", linkedid=linkedid)
    assert ended["outcome"] == "answered" and ended["answered_by"] == "1001"
    assert ended["hung_up_by"] in ("customer", "agent")
    types = [
        m["type"]
        for m in agent1.messages
        if m.get("linkedid", m.get("call", {}).get("linkedid")) == linkedid
    ]
    assert types.index("pop") < types.index("answered") < types.index("ended")
    # Wrap-up after the answered call, then ready again (wrapup_seconds=1 here).
    await agent1.wait_for("state", status="wrapup")
    await agent1.wait_for("state", status="ready", timeout=5)
    assert not [m for m in agent2.messages if m["type"] in ("pop", "answered", "ended")]
    latency = next(iter(system.services.metrics.pop_latency.collect()))
    count = next(s.value for s in latency.samples if s.name.endswith("_count"))
    assert count >= 1
    # The pop's work is over: the background no longer waits for it (telephony/foreground.py).
    await system.app.state.pops.drain()
    assert not system.services.foreground.busy
    for browser in (agent1, agent2):
        await browser.close()
    await http1.aclose()
    await http2.aclose()


async def test_direct_call_and_unknown_caller(system: LiveSystem) -> None:
    agent2, http2 = await _browser(system, "agent2")
    linkedid = await system.sim.place_inbound_call(
        "13912345678", extension="1002", answer_after=1, talk_seconds=2
    )
    pop = await agent2.wait_for("pop")
    assert pop["call"]["linkedid"] == linkedid and pop["call"]["queue"] is None
    assert pop["customer"] is None and pop["unknown_number"] == "13912345678"
    await agent2.wait_for("ended", linkedid=linkedid)
    await agent2.close()
    await http2.aclose()


async def test_reconnect_resumes_once_without_duplicates(system: LiveSystem) -> None:
    agent1, http1 = await _browser(system, "agent1")
    await http1.put("/api/agent/state", json={"status": "ready"})
    await agent1.wait_for("state", status="ready")
    await agent1.close()  # the browser loses its connection...
    seen = agent1.last_seq
    linkedid = await system.sim.place_inbound_call("13800138000", answer_after=1, talk_seconds=2)
    await system.sim.wait_calls()
    await asyncio.sleep(0.3)  # ...while a whole call happens
    hello = await agent1.connect(resume=True)
    assert hello["resumed_from"] == seen and hello["last_seq"] > seen
    await agent1.wait_for("ended", linkedid=linkedid)
    await asyncio.sleep(0.3)
    resumed = [m for m in agent1.messages if m["seq"] > seen]
    assert [m["seq"] for m in resumed] == list(range(seen + 1, hello["last_seq"] + 1))
    assert {"pop", "answered", "ended"} <= {m["type"] for m in resumed}
    seqs = [m["seq"] for m in agent1.messages]
    assert len(seqs) == len(set(seqs)), "a message was delivered twice"
    await agent1.close()
    await http1.aclose()


async def test_websocket_rejects_strangers(system: LiveSystem) -> None:
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(system.ws_url)  # closes 4401 before accepting
    client = await system.login("agent1")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    with pytest.raises(websockets.InvalidStatus):
        await websockets.connect(
            system.ws_url,
            additional_headers={"Cookie": cookie},
            origin=Origin("http://evil.example"),
        )
    await client.aclose()
