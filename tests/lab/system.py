"""The real server (uvicorn, bridge, dialer, workers) in the test's event loop, connected to
the lab's Asterisk as production connects to its PBX: AMI user `callcentre`, recordings read
where MixMonitor writes them, outside numbers dialled through the `carrier` trunk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import uvicorn

from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings, load_settings
from tests.lab.lab import AMI_USER, Lab
from tests.support.clock import real_pace
from tests.support.live import LiveServer, create_staff, free_port
from web.app import create_app


class ShiftedClock:
    """Real time moved to a chosen moment (a working Monday morning, for the dialer's calling
    hours and calendar) that then runs at the real pace, as the PBX's calls do."""

    def __init__(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic()


def lab_settings(lab: Lab, database: Database, **overrides: Any) -> Settings:
    monitor = lab.pbx.monitor_dir
    # The lab's calls are made whenever the tests run: no calling hours, no holidays (the
    # server's own tests hold those rules on a fixed clock).
    every_day = lab.pbx.directory / "no-holidays.toml"
    every_day.write_text("# the lab calls every day\n", encoding="utf-8")
    return load_settings(
        **{
            "database_url": database.url,
            "ami_host": "127.0.0.1",
            "ami_port": lab.settings.ports.ami,
            "ami_user": AMI_USER,
            "ami_secret": lab.ami_secret,
            "ami_ping_interval": 0.5,
            "ami_reconnect_min": 0.1,
            "ami_reconnect_max": 0.5,
            "default_area_code": "029",
            "recordings_dir": monitor,
            "recordings_pbx_dir": str(monitor),
            "trunk_dial_template": "PJSIP/{number}@carrier",
            "wrapup_seconds": 1,
            "calling_hours": "00:00-23:59",
            "holidays_path": every_day,
            **overrides,
        }
    )


@asynccontextmanager
async def lab_system(
    lab: Lab, database: Database, *, clock: Clock | None = None, **overrides: Any
) -> AsyncIterator[LiveServer]:
    """The server on a free loopback port, its bridge connected and resynced with the lab."""
    settings = lab_settings(lab, database, **overrides)
    await create_staff(database)
    app = create_app(settings, database=database, clock=real_pace(clock))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    system = LiveServer(settings, database, server, app, f"http://127.0.0.1:{port}")
    bridge = system.bridge
    deadline = asyncio.get_running_loop().time() + 15
    while not bridge.settled:
        assert bridge.fatal is None, bridge.fatal
        assert asyncio.get_running_loop().time() < deadline, "the bridge did not settle"
        await asyncio.sleep(0.05)
    try:
        yield system
    finally:
        server.should_exit = True
        await task
