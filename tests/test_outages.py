"""Redis, then PostgreSQL, stopped while calls, pops, transcriptions and campaign dials flow
through the multi-process layout (one bridge, two web, two worker and two dialer processes,
as tests/test_cluster.py starts them).

Each dependency is down for OUTAGE_SECONDS (30 s, the figure of the security issue; the
`OUTAGE_SECONDS` variable shortens it for a quick local run). Throughout: no process exits;
each one's /healthz (the web processes' own port, the others' `--health-port`) names the
dependency that is down and recovers after; /metrics says the same
(`callcentre_redis_connected`, `callcentre_database_ok`). Afterwards: every call placed has
exactly one row with its outcome, every recorded answered call its transcript (both legs,
its job done), every ring reached the ringing agent's browser once, with the call's end
after it (during the Redis window the events wait in the bridge and arrive when Redis is
back: by design a late pop rather than a lost one), and no campaign task was dialed twice.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call
from crm.clock import SystemClock
from crm.db import Database
from crm.settings import load_settings
from crm.stopping import stop_task
from crm.transcripts.models import JobStatus, Transcript, TranscriptionJob
from telephony.pbx_sim import PbxSimulator
from tests.support.cluster import (
    Agent,
    Cluster,
    Node,
    Originates,
    eventually,
    running_campaign,
    running_deployment,
    staffed_database,
)
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

OUTAGE_SECONDS = float(os.environ.get("OUTAGE_SECONDS", "30"))

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(300 + 4 * OUTAGE_SECONDS),
]

AMI_SECRET = "outage-secret"
TIME_SCALE = 0.2  # real seconds per simulated second
# Real seconds between inbound calls. Each is recorded and transcribed, and the test model
# transcribes at about real time on two loaded cores: ~15 short calls are what two workers
# catch up with.
CALL_EVERY = 6.0
CAMPAIGN_TASKS = 24


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db(postgres: PostgresServer, pg_template: str) -> AsyncIterator[Database]:
    async with staffed_database(postgres, pg_template, "outages") as database:
        yield database


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(
    db: Database, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Cluster, PbxSimulator, Originates]]:
    async with running_deployment(
        db,
        redis_server,
        tmp_path_factory.mktemp("outages"),
        ami_secret=AMI_SECRET,
        time_scale=TIME_SCALE,
        seed=11,
        env={"CALLCENTRE_DIALER_CALLS_PER_SECOND": "0.5"},  # dials spread over the outages
        health=True,
    ) as system:
        yield system


async def _health(node: Node) -> tuple[int, dict[str, Any], str]:
    """The node's /healthz (status code, body) and its /metrics text."""
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as client:
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
    return health.status_code, dict(health.json()), metrics.text


class Watch:
    """Every node's /healthz and /metrics, read every second: what each said, when."""

    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes
        self.seen: list[tuple[float, str, int, dict[str, Any], str]] = []
        self.errors: list[str] = []

    async def run(self) -> None:
        while True:
            for node in self.nodes:
                try:
                    code, body, metrics = await _health(node)
                    self.seen.append((time.monotonic(), node.name, code, body, metrics))
                except (httpx.HTTPError, ValueError) as exc:
                    self.errors.append(f"{node.name}: {type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)

    def during(self, start: float, end: float, name: str) -> list[tuple[int, dict[str, Any], str]]:
        return [(c, b, m) for t, n, c, b, m in self.seen if n == name and start <= t <= end]


class Traffic:
    """Inbound calls placed every few seconds until stopped; their linkedids."""

    def __init__(self, sim: PbxSimulator) -> None:
        self.sim = sim
        self.linkedids: list[str] = []

    async def run(self) -> None:
        for n in range(10_000):
            self.linkedids.append(
                await self.sim.place_inbound_call(f"1380013{n:04d}", answer_after=1, talk_seconds=1)
            )
            await asyncio.sleep(CALL_EVERY)


def _alive(cluster: Cluster) -> dict[str, int | None]:
    return {name: node.process.poll() for name, node in cluster.nodes.items()}


async def test_redis_then_postgres_down_loses_nothing(
    system: tuple[Cluster, PbxSimulator, Originates],
    db: Database,
    postgres: PostgresServer,
    redis_server: RedisServer,
) -> None:
    cluster, sim, originates = system
    for extension in ("1001", "1002"):
        sim.set_answer(extension, 0.5)
    probed = [n for n in cluster.nodes.values() if n.port is not None]
    watch = Watch(probed)
    traffic = Traffic(sim)
    async with (
        Agent(cluster.nodes["web-a"], "agent1") as one,
        Agent(cluster.nodes["web-b"], "agent2") as two,
    ):
        await one.set_state("ready")
        await two.set_state("ready")
        _, task_ids = await running_campaign(db, CAMPAIGN_TASKS, series="001")
        watching = asyncio.create_task(watch.run())
        calling = asyncio.create_task(traffic.run())
        try:
            await asyncio.sleep(8)  # calls and dials under way before anything breaks

            redis_down = time.monotonic()
            redis_server.shutdown()
            await asyncio.sleep(OUTAGE_SECONDS)
            redis_server.start()
            redis_up = time.monotonic()
            assert all(code is None for code in _alive(cluster).values()), _alive(cluster)
            await asyncio.sleep(10)

            pg_down = time.monotonic()
            postgres.pause()
            await asyncio.sleep(OUTAGE_SECONDS)
            postgres.resume()
            pg_up = time.monotonic()
            assert all(code is None for code in _alive(cluster).values()), _alive(cluster)
            await asyncio.sleep(8)
        finally:
            await stop_task(calling)
        await sim.wait_calls()
        await sim.wait_recordings()
        placed = list(traffic.linkedids)

        # -- afterwards: nothing lost, nothing doubled ---------------------------------------
        async def calls_stored() -> list[Call] | None:
            async with db.session() as session:
                rows = list(await session.scalars(select(Call)))
            ended = {c.linkedid for c in rows if c.ended_at is not None}
            return rows if ended >= set(placed) else None

        rows = await eventually(calls_stored, 90, "every placed call to be stored, ended")
        by_linkedid: dict[str, list[Call]] = {}
        for row in rows:
            by_linkedid.setdefault(row.linkedid, []).append(row)
        assert all(len(by_linkedid[linkedid]) == 1 for linkedid in placed)
        outcomes = {x: by_linkedid[x][0].outcome for x in placed}
        assert {str(o) for o in outcomes.values()} == {"answered"}, outcomes
        recorded = [by_linkedid[x][0] for x in placed if by_linkedid[x][0].recording]
        assert len(recorded) == len(placed)

        async def transcribed() -> bool:
            async with db.session() as session:
                jobs = list(
                    await session.scalars(
                        select(TranscriptionJob).where(
                            TranscriptionJob.call_id.in_([c.id for c in recorded])
                        )
                    )
                )
            return len(jobs) == len(recorded) and all(j.status is JobStatus.DONE for j in jobs)

        await eventually(transcribed, 300, "every recorded call to be transcribed")
        async with db.session() as session:
            legs = list(
                await session.execute(
                    select(Transcript.call_id, Transcript.leg).where(
                        Transcript.call_id.in_([c.id for c in recorded])
                    )
                )
            )
        per_call: dict[int, set[str]] = {}
        for call_id, leg in legs:
            per_call.setdefault(call_id, set()).add(str(leg))
        assert len(legs) == 2 * len(recorded) and all(len(v) == 2 for v in per_call.values())
        transcribed_lines = sum(
            n.output().count(f"call {c.id} transcribed")
            for c in recorded
            for name, n in cluster.nodes.items()
            if name.startswith("worker")
        )
        assert transcribed_lines == len(recorded), "a call was transcribed twice (or never)"

        # Every ring reached the ringing agent's browser once, and the call's end after it.
        for agent, extension in ((one, "1001"), (two, "1002")):
            rung = {
                c.linkedid
                for c in rows
                if c.linkedid in placed and any(extension in i for i in c.agents_rung or ())
            }
            assert rung, f"{agent.username} was never rung"
            pops = [m["call"]["linkedid"] for m in agent.messages if m["type"] == "pop"]
            ended = [m["linkedid"] for m in agent.messages if m["type"] == "ended"]
            assert len(pops) == len(set(pops)), f"{agent.username}: a pop twice"
            missing = {x for x in rung if x not in pops or x not in ended}
            assert not missing, f"{agent.username} never got the pop or end of {missing}"

        # No campaign task dialed twice; every attempt's call stored with its outcome.
        async with db.session() as session:
            attempts = list(
                await session.scalars(
                    select(CallbackAttempt).where(CallbackAttempt.task_id.in_(task_ids))
                )
            )
        assert attempts, "the dialer dialed nothing"
        per_task: dict[int, int] = {}
        for attempt in attempts:
            per_task[attempt.task_id] = per_task.get(attempt.task_id, 0) + 1
        assert set(per_task.values()) == {1}, per_task
        dialed = [a for a in originates.attempts if a in {x.id for x in attempts}]
        assert len(dialed) == len(set(dialed)), "an attempt was dialed twice"

        # -- what each process said while a dependency was down ------------------------------
        await asyncio.sleep(3)
        await stop_task(watching)
    assert all(code is None for code in _alive(cluster).values()), _alive(cluster)
    for node in probed:
        during_redis = watch.during(redis_down + 5, redis_up - 1, node.name)
        during_pg = watch.during(pg_down + 5, pg_up - 1, node.name)
        # Its latest reading once both are back (the watcher reads every process in turn,
        # so on a loaded machine a round can outlast any fixed few seconds).
        after = watch.during(pg_up + 5, time.monotonic(), node.name)
        assert during_redis and during_pg and after, node.name
        for _code, body, metrics in during_redis:
            assert body["status"] != "ok" and "redis" in body["failing"], (node.name, body)
            assert "callcentre_redis_connected 0.0" in metrics, node.name
        for code, body, metrics in during_pg:
            assert code == 503 and "database" in body["failing"], (node.name, code, body)
            assert "callcentre_database_ok 0.0" in metrics, node.name
        code, body, metrics = after[-1]
        assert code == 200 and body["failing"] == [], (node.name, body)
        assert "callcentre_database_ok 1.0" in metrics
        assert "callcentre_redis_connected 1.0" in metrics
    pops = sum(m["type"] == "pop" for agent in (one, two) for m in agent.messages)
    print(
        f"\noutages of {OUTAGE_SECONDS:g} s: {len(placed)} calls placed and stored, "
        f"{len(recorded)} transcribed, {pops} pops, {len(attempts)} campaign attempts dialed "
        f"once each, {len(watch.seen)} /healthz+/metrics readings of {len(probed)} processes"
    )


# -- the retry of writes that happen once, on its own ------------------------------------------


async def test_only_an_unreachable_database_is_waited_out() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from crm.db_outage import database_unavailable

    assert database_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert database_unavailable(OperationalError("SELECT 1", {}, Exception("gone")))
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("duplicate")))
    assert not database_unavailable(ValueError("a bug"))


async def test_a_write_waits_for_the_database_and_a_bug_is_raised_at_once() -> None:
    from crm.db_outage import through_outage

    tries: list[int] = []

    async def flaky() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionRefusedError(111, "Connect call failed")
        return "stored"

    assert await through_outage(flaky, what="test", max_delay=0.01) == "stored"
    assert len(tries) == 3

    async def wrong() -> None:
        raise KeyError("no such column")

    with pytest.raises(KeyError):
        await through_outage(wrong, what="test")


async def test_a_process_without_the_web_serves_only_health_and_metrics(sqlite_url: str) -> None:
    from web.app import create_app
    from web.health_server import health_app
    from web.runtime.roles import ProcessRole

    settings = load_settings(database_url=sqlite_url)
    app = create_app(
        settings,
        with_transcription=False,
        roles=frozenset({ProcessRole.WORKER}),
        clock=SystemClock(),
    )
    async with app.router.lifespan_context(app):
        probe = health_app(app)
        transport = httpx.ASGITransport(app=probe)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            health = await client.get("/healthz")
            metrics = await client.get("/metrics")
            login = await client.post("/api/auth/login", json={"username": "a", "password": "b"})
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert health.json()["failing"] == [] and "redis" not in health.json()  # no Redis here
    assert "callcentre_database_ok 1.0" in metrics.text
    assert login.status_code == 404  # nothing but the two
