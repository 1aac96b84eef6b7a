"""An agent's browser as the lab tests need it: logged in, on the websocket, every message
kept with the moment (monotonic) it arrived, so a pop can be compared with the phone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets
from websockets.typing import Origin

from tests.support.live import LiveServer


@dataclass
class Desk:
    system: LiveServer
    http: httpx.AsyncClient
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _socket: Any = None
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, system: LiveServer, username: str) -> Desk:
        http = await system.login(username)
        desk = cls(system, http)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
        desk._socket = await websockets.connect(
            system.ws_url, additional_headers={"Cookie": cookie}, origin=Origin(system.url)
        )
        hello = json.loads(await desk._socket.recv())
        assert hello["type"] == "hello", hello
        desk._reader = asyncio.create_task(desk._read())
        return desk

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):  # the server stopping
            async for raw in self._socket:
                self.messages.append((time.monotonic(), json.loads(raw)))

    async def ready(self) -> None:
        response = await self.http.put("/api/agent/state", json={"status": "ready"})
        assert response.status_code == 200 and response.json()["pbx_synced"], response.text
        await self.wait_for("state", status="ready")

    async def wait_for(
        self, kind: str, timeout: float = 15, **fields: Any
    ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            for at, message in self.messages:
                if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                    return at, message
            kinds = [m["type"] for _, m in self.messages]
            assert time.monotonic() < deadline, f"no {kind} {fields} in {timeout} s: {kinds}"
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.http.aclose()
