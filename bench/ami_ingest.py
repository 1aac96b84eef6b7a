"""AMI ingest: events per second through the whole bridge, against panoramisk's own parser.

Real path: the PBX simulator writes the replayed stream on a real AMI socket to the running
`Bridge` (our framing → the one FIFO → `CallTracker` → `CallStore` → `calls` rows in SQLite,
transcription jobs queued for recorded calls), timed from the first byte written to the
last call row committed. Ceiling: panoramisk's `AMIProtocol.data_received` (its framing and
`Message.from_line`) on the same bytes in the same chunks, dispatching to nothing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from sqlalchemy import func, select

from bench.ami_stream import Stream, build_stream
from bench.common import finish, migrated_sqlite, ratio, say, scratch_dir
from bench.data import load_customers, mobile
from crm.bus import LocalBus
from crm.calls.models import Call
from crm.clock import SystemClock
from crm.db import Database
from crm.settings import load_settings
from crm.users import service as users
from crm.users.models import Role
from telephony.bridge import Bridge
from telephony.pbx_sim import PbxSimulator, SimulatorConfig

CHUNK = 65536  # what a socket read hands the protocol
GOAL = 0.5


class _Sink:
    """panoramisk's factory, reduced to counting what it is handed."""

    def __init__(self) -> None:
        self.events = 0

    def dispatch(self, message: Any) -> None:
        self.events += 1


@dataclass(frozen=True)
class Timing:
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU (every thread): immune to other load


def panoramisk_ceiling(stream: Stream) -> Timing:
    """panoramisk turning the bytes into dispatched events."""
    protocol = AMIProtocol()
    protocol.connection_made(None)
    protocol.encoding = "utf8"
    protocol.version = "11.0.0"  # past the banner, as after login
    sink = _Sink()
    protocol.factory = sink
    data = stream.data
    cpu, start = time.process_time(), time.perf_counter()
    for offset in range(0, len(data), CHUNK):
        protocol.data_received(data[offset : offset + CHUNK])
    protocol.data_received(b"\r\n\r\n")
    timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
    assert sink.events == stream.events, (sink.events, stream.events)
    return timing


async def bridge_path(stream: Stream, url: str) -> tuple[Timing, int]:
    """From the first byte sent to every call stored; and the calls stored."""
    sim = PbxSimulator(SimulatorConfig(port=0, secret="bench-secret", seed=1), clock=SystemClock())
    _, port = await sim.start()
    settings = load_settings(
        database_url=url,
        ami_port=port,
        ami_secret="bench-secret",
        default_area_code="029",
        ami_ping_timeout=60,
        ami_action_timeout=60,
    )
    database = Database(url)
    bridge = Bridge(settings, database, LocalBus(), clock=SystemClock())
    await bridge.start()
    try:
        while bridge.synced_at is None:
            await asyncio.sleep(0.01)
        await bridge.drain()
        session = next(s for s in sim.sessions if s.authenticated)
        data = stream.data
        cpu, start = time.process_time(), time.perf_counter()
        for offset in range(0, len(data), CHUNK):
            session.send(data[offset : offset + CHUNK])
            await session.drain()
        # The answer comes after every byte of the stream: once here, all were read.
        await bridge.client.send({"Action": "Ping"}, as_list=False)
        await bridge.drain()
        timing = Timing(time.perf_counter() - start, time.process_time() - cpu)
        async with database.session() as db_session:
            stored = await db_session.scalar(select(func.count()).select_from(Call))
        return timing, int(stored or 0)
    finally:
        await bridge.stop()
        await sim.stop()
        await database.dispose()


async def _prepare(url: str, customers: int) -> None:
    database = Database(url)
    try:
        await load_customers(database, customers)
        async with database.session() as session:
            for extension in ("1001", "1002"):
                await users.create(
                    session,
                    username=f"agent{extension}",
                    password="bench-pass",
                    display_name=f"坐席{extension}",
                    role=Role.AGENT,
                    extension=extension,
                )
    finally:
        await database.dispose()


def run(quick: bool = False) -> dict[str, Any]:
    calls, customers = (30, 200) if quick else (1000, 20_000)
    numbers = [mobile(i) for i in range(0, customers, 3)] + ["13912345678", "02988881234"]
    stream = build_stream(calls, numbers=numbers)
    say(
        f"AMI ingest: {calls} calls, {stream.events} events, {len(stream.data) / 1e6:.1f} MB "
        f"of AMI; {customers} customers in SQLite"
    )
    with scratch_dir("ami") as directory:
        url = migrated_sqlite(directory)
        asyncio.run(_prepare(url, customers))
        ceilings = [panoramisk_ceiling(stream)]
        real, stored = asyncio.run(bridge_path(stream, url))
        ceilings += [panoramisk_ceiling(stream), panoramisk_ceiling(stream)]
    ceiling = Timing(min(c.wall for c in ceilings), min(c.cpu for c in ceilings))
    rates = {
        name: (stream.events / real_s, stream.events / ceiling_s)
        for name, real_s, ceiling_s in (
            ("wall", real.wall, ceiling.wall),
            ("cpu", real.cpu, ceiling.cpu),
        )
    }
    share = {name: ratio(ours, theirs) for name, (ours, theirs) in rates.items()}
    say(
        f"  panoramisk parse (ceiling): {rates['wall'][1]:10,.0f} events/s wall, "
        f"{rates['cpu'][1]:10,.0f} per CPU-second (best of {len(ceilings)})"
    )
    say(
        f"  bridge → tracker → SQLite:  {rates['wall'][0]:10,.0f} events/s wall, "
        f"{rates['cpu'][0]:10,.0f} per CPU-second; {stored} call rows stored"
    )
    say(
        f"  ratio to the ceiling: {share['wall']:.2f} wall, {share['cpu']:.2f} CPU "
        f"(goal ≥ {GOAL:.2f} on CPU time: {'met' if share['cpu'] >= GOAL else 'NOT met'})"
    )
    if stored != calls:
        say(f"  WARNING: {calls} calls sent, {stored} stored")
    return finish(
        "ami_ingest",
        {
            "calls": calls,
            "events": stream.events,
            "bytes": len(stream.data),
            "calls_stored": stored,
            "events_per_second": round(rates["wall"][0]),
            "events_per_cpu_second": round(rates["cpu"][0]),
            "baseline_events_per_second": round(rates["wall"][1]),
            "baseline_events_per_cpu_second": round(rates["cpu"][1]),
            "ratio": share["wall"],
            "ratio_cpu": share["cpu"],
            "goal_ratio": GOAL,
            "goal_met": share["cpu"] >= GOAL,
        },
    )
