"""The PBX simulator and the bridge on top of it, with the bus subscribers that turn call
outcomes into attempt outcomes — the telephony side of the server without the web."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crm.bus import LocalBus
from crm.clock import Clock, SystemClock
from crm.db import Database
from crm.settings import Settings, load_settings
from telephony.attempt_outcomes import resolve_attempt
from telephony.bridge import Bridge
from telephony.events import CallEnded
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.support.clock import RealPace
from tests.support.waiting import until


@dataclass
class PbxRig:
    database: Database
    clock: Clock
    sim: PbxSimulator
    settings: Settings
    bridge: Bridge
    bus: LocalBus
    events: list[Any] = field(default_factory=list)

    async def settle(self) -> None:
        """Every call placed so far has ended and its consequences are stored."""
        await self.sim.wait_calls()
        await asyncio.sleep(0.1)
        await self.bridge.drain()
        await self.bus.drain()


@asynccontextmanager
async def pbx_rig(
    database: Database,
    tmp_path: Path,
    clock: Clock,
    *,
    sim: dict[str, Any] | None = None,
    **settings: Any,
) -> AsyncIterator[PbxRig]:
    simulator = PbxSimulator(
        SimulatorConfig(
            **{
                "port": 0,
                "user": "callcentre",
                "secret": "rig-secret",
                "time_scale": 0.05,
                "seed": 5,
                "recordings_dir": tmp_path / "recordings",
                "talk_seconds": (10, 10),
                **(sim or {}),
            }
        ),
        clock=SystemClock(),  # the simulated PBX keeps the real time and pace
    )
    _, port = await simulator.start()
    config = load_settings(
        **{
            "database_url": database.url,
            "ami_port": port,
            "ami_secret": "rig-secret",
            "ami_ping_interval": 0.5,
            "ami_reconnect_min": 0.05,
            "ami_reconnect_max": 0.3,
            "default_area_code": "029",
            "recordings_dir": tmp_path / "recordings",
            **settings,
        }
    )
    bus = LocalBus()
    bridge = Bridge(config, database, bus, clock=RealPace(clock))
    rig = PbxRig(database, clock, simulator, config, bridge, bus)

    async def record(event: Any) -> None:
        rig.events.append(event)

    async def attempts(event: CallEnded) -> None:
        await resolve_attempt(database, event.record, at=clock.now())

    bus.subscribe(record, name="record")
    bus.subscribe(attempts, name="attempt-outcomes", types=(CallEnded,))
    await bridge.start()
    await until(lambda: bridge.settled, timeout=15)
    try:
        yield rig
    finally:
        await bridge.stop()
        await bus.close()
        await simulator.stop()
