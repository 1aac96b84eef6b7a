"""The agent's own state tells the truth: one derivation (crm/agents/presence.py) gives the
wallboard and the agent's websocket the same answer, driven by the PBX — the phone rings, the
call is answered, it ends and wrap-up starts (held, when coding is required, until the call
is coded) — end to end from the PBX simulator."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin

from crm.agents.models import AgentStatus
from crm.agents.presence import AgentPhone, AgentPresence, PhoneCall, Presence, present
from crm.db import Database
from tests.support.live import LiveSystem, live_system
from tests.support.ws_schema import checked

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_a_connected_call_outranks_a_ringing_one_which_outranks_the_chosen_state() -> None:
    rang = PhoneCall("ring-1", AT + timedelta(seconds=5))
    talking = PhoneCall("talk-1", AT + timedelta(seconds=9))

    def paused(phone: AgentPhone | None) -> AgentPresence:
        return present(status=AgentStatus.PAUSED, reason="break", since=AT, phone=phone)

    assert paused(None) == paused(AgentPhone())
    shown = paused(None)
    assert (shown.presence, shown.reason, shown.since, shown.linkedid) == (
        Presence.PAUSED,
        "break",
        AT,
        None,
    )
    ringing = paused(AgentPhone(ringing=rang))
    assert (ringing.presence, ringing.reason, ringing.since, ringing.linkedid) == (
        Presence.RINGING,
        None,
        rang.since,
        "ring-1",
    )
    on_call = paused(AgentPhone(on_call=talking, ringing=rang))
    assert (on_call.presence, on_call.since, on_call.linkedid) == (
        Presence.ON_CALL,
        talking.since,
        "talk-1",
    )
    assert {p.value for p in Presence} >= {s.value for s in AgentStatus}


class AgentSocket:
    """An agent's websocket, as the console holds it."""

    def __init__(self, system: LiveSystem, client: httpx.AsyncClient) -> None:
        self.system = system
        self.cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        self.hello: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AgentSocket:
        self._socket = await websockets.connect(
            self.system.ws_url,
            additional_headers={"Cookie": self.cookie},
            origin=Origin(self.system.url),
        )
        self.hello = checked(json.loads(await self._socket.recv()))
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        async for raw in self._socket:
            self.messages.append(checked(json.loads(raw)))  # each is its declared model

    async def state(
        self, match: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 10
    ) -> tuple[int, dict[str, Any]]:
        """The first "state" message from index `after` that matches, and its index."""
        deadline = time.monotonic() + timeout
        while True:
            for index, message in enumerate(self.messages[after:], start=after):
                if message["type"] == "state" and match(message):
                    return index, message
            assert time.monotonic() < deadline, [
                (m.get("presence"), m.get("status")) for m in self.messages if m["type"] == "state"
            ]
            await asyncio.sleep(0.02)


async def _wallboard_status(supervisor: httpx.AsyncClient, user_id: int) -> dict[str, Any]:
    board = (await supervisor.get("/api/wallboard")).json()
    [agent] = [a for a in board["agents"] if a["user_id"] == user_id]
    return dict(agent)


@pytest.fixture
async def system(db: Database, tmp_path: Path) -> AsyncIterator[LiveSystem]:
    async with live_system(db, tmp_path, wrapup_seconds=2, disposition_required=True) as running:
        yield running


async def test_the_agents_state_follows_the_pbx_as_the_wallboard_shows_it(
    system: LiveSystem,
) -> None:
    agent = await system.login("agent1")
    supervisor = await system.login("supervisor")
    async with AgentSocket(system, agent) as socket:
        me = socket.hello["user"]["id"]
        assert socket.hello["state"]["presence"] == "logged_out"
        assert (await agent.put("/api/agent/state", json={"status": "ready"})).status_code == 200
        at, _ = await socket.state(lambda m: m["presence"] == "ready")

        system.sim.set_answer("1001", None)  # it rings until told otherwise
        linkedid = await system.sim.place_inbound_call("13912345678", talk_seconds=40)
        at, ringing = await socket.state(lambda m: m["presence"] == "ringing", after=at)
        assert ringing["linkedid"] == linkedid and ringing["status"] == "ready"
        board = await _wallboard_status(supervisor, me)
        assert (board["status"], board["since"]) == ("ringing", ringing["presence_since"])

        system.sim.set_answer("1001", 0.5)  # picked up on the next ring
        at, on_call = await socket.state(lambda m: m["presence"] == "on_call", after=at)
        assert on_call["linkedid"] == linkedid and on_call["presence_since"] is not None
        assert on_call["presence_since"] > ringing["presence_since"]  # the call's own timer
        board = await _wallboard_status(supervisor, me)
        assert (board["status"], board["since"]) == ("on_call", on_call["presence_since"])

        # The call ends: wrap-up, with the call to code; its time runs out but the agent may
        # not go ready until the call is coded, and the wallboard says the same.
        at, wrapup = await socket.state(lambda m: m["presence"] == "wrapup", after=at)
        assert wrapup["status"] == "wrapup" and wrapup["linkedid"] is None
        assert wrapup["dispositions_owed"] == 1 and wrapup["wrapup_until"] is not None
        at, _ = await socket.state(
            lambda m: m["presence"] == "wrapup" and m["wrapup_until"] is None, after=at
        )
        assert (await _wallboard_status(supervisor, me))["status"] == "wrapup"
        refused = await agent.put("/api/agent/state", json={"status": "ready"})
        assert refused.status_code == 409
        [owed] = (await agent.get("/api/dispositions/owed")).json()
        assert owed["linkedid"] == linkedid
        coded = await agent.put(
            f"/api/calls/{owed['call_id']}/disposition", json={"code": "consultation"}
        )
        assert coded.status_code == 200
        _, ready = await socket.state(lambda m: m["presence"] == "ready", after=at)
        assert ready["dispositions_owed"] == 0
        assert (await _wallboard_status(supervisor, me))["status"] == "ready"

    # A reconnecting page is told the state in its hello.
    async with AgentSocket(system, agent) as again:
        assert again.hello["state"]["presence"] == "ready"
    await agent.aclose()
    await supervisor.aclose()
