"""A live system for end-to-end tests: the PBX simulator and the real server (uvicorn) in the
test's event loop, talking over real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from crm.clock import Clock, SystemClock
from crm.db import Database
from crm.settings import Settings, load_settings
from crm.users import service as users
from crm.users.models import Role
from telephony.bridge import Bridge
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.support.clock import real_pace
from web.app import create_app
from web.services import Services

PASSWORD = "password-1"
AGENTS = {"agent1": "1001", "agent2": "1002"}


async def create_staff(database: Database) -> None:
    """The people the live tests log in as, all with PASSWORD: the agents (AGENTS, named
    坐席<extension>) and a supervisor (组长); those already there are kept."""
    async with database.session() as session:
        for username, extension in AGENTS.items():
            if await users.get_by_username(session, username) is None:
                await users.create(
                    session,
                    username=username,
                    password=PASSWORD,
                    display_name=f"坐席{extension}",
                    role=Role.AGENT,
                    extension=extension,
                )
        if await users.get_by_username(session, "supervisor") is None:
            await users.create(
                session,
                username="supervisor",
                password=PASSWORD,
                display_name="组长",
                role=Role.SUPERVISOR,
            )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """The real server (uvicorn) on a loopback port, in the test's event loop."""

    settings: Settings
    database: Database
    server: uvicorn.Server
    app: FastAPI
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    async def login(self, username: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        response = await client.post(
            "/api/auth/login", json={"username": username, "password": PASSWORD}
        )
        response.raise_for_status()
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def bridge(self) -> Bridge:
        """The PBX bridge this server runs (every live system runs one)."""
        bridge = self.services.bridge
        assert bridge is not None, "this server runs no PBX bridge"
        return bridge


@dataclass
class LiveSystem(LiveServer):
    """The server beside the PBX simulator it is connected to."""

    sim: PbxSimulator


@asynccontextmanager
async def live_system(
    database: Database,
    tmp_path: Path,
    *,
    time_scale: float = 0.05,
    clock: Clock | None = None,
    **overrides: Any,
) -> AsyncIterator[LiveSystem]:
    sim = PbxSimulator(
        SimulatorConfig(
            port=0,
            user="callcentre",
            secret="live-secret",
            time_scale=time_scale,
            seed=3,
            recordings_dir=tmp_path / "recordings",
        ),
        clock=SystemClock(),
    )
    _, ami_port = await sim.start()
    settings = load_settings(
        database_url=database.url,
        ami_port=ami_port,
        ami_secret="live-secret",
        ami_ping_interval=0.5,
        ami_reconnect_min=0.05,
        ami_reconnect_max=0.5,
        default_area_code="029",
        recordings_dir=tmp_path / "recordings",
        **{"wrapup_seconds": 1, **overrides},
    )
    await create_staff(database)
    app = create_app(settings, database=database, clock=real_pace(clock))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="on",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    system = LiveSystem(settings, database, server, app, f"http://127.0.0.1:{port}", sim=sim)
    while not system.bridge.client.connected:
        await asyncio.sleep(0.02)
    try:
        yield system
    finally:
        server.should_exit = True
        await task
        await sim.stop()
