"""The multi-process deployment on one machine: real PostgreSQL and Redis servers, the PBX
simulator, and `callcentre serve --role …` subprocesses: one bridge, two web processes, two
transcription workers and two dialers. A pop reaches the agent on either web process; a
worker killed mid-job loses no transcript; killing the active dialer hands over to the
standby without dialing any task twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm.agents.models import AgentStatus
from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call
from crm.clock import SystemClock
from crm.db import Database
from crm.transcripts.models import JobStatus, Transcript, TranscriptionJob
from telephony.pbx_sim import PbxSimulator
from tests.support.cluster import (
    Agent,
    Cluster,
    Originates,
    eventually,
    running_campaign,
    running_deployment,
    staffed_database,
)
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.timeout(240),
]

AMI_SECRET = "cluster-secret"
TIME_SCALE = 0.2  # real seconds per simulated second


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db(postgres: PostgresServer, pg_template: str) -> AsyncIterator[Database]:
    async with staffed_database(postgres, pg_template, "cluster") as database:
        yield database


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def system(
    db: Database, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Cluster, PbxSimulator, Originates]]:
    async with running_deployment(
        db,
        redis_server,
        tmp_path_factory.mktemp("cluster"),
        ami_secret=AMI_SECRET,
        time_scale=TIME_SCALE,
        seed=5,
    ) as system:
        yield system


async def test_a_pop_reaches_the_agent_on_either_web_process(
    system: tuple[Cluster, PbxSimulator, Originates],
) -> None:
    cluster, sim, _ = system
    web_a, web_b = cluster.nodes["web-a"], cluster.nodes["web-b"]
    async with Agent(web_a, "agent1") as one, Agent(web_b, "agent2") as two:
        assert one.hello["pbx"] == {"connected": True} == two.hello["pbx"]
        # Each web process has no PBX connection of its own: the bridge tells the PBX.
        assert (await one.set_state("ready"))["pbx_synced"] is True
        assert (await two.set_state("ready"))["pbx_synced"] is True
        members = sim.pbx.queues["service"].members
        assert {"PJSIP/1001", "PJSIP/1002"} <= set(members)

        linkedid = await sim.place_inbound_call("13800138000", answer_after=2, talk_seconds=3)

        def pop_for(message: dict[str, Any]) -> bool:
            return message["type"] == "pop" and message["call"]["linkedid"] == linkedid

        pops = [await one.wait_for(pop_for), await two.wait_for(pop_for)]
        assert all(p["call"]["caller"] == "13800138000" for p in pops)
        assert sum(p["type"] == "pop" for p in one.messages) == 1  # once, not once per web

        def ended(message: dict[str, Any]) -> bool:
            return message["type"] == "ended" and message["linkedid"] == linkedid

        end = await one.wait_for(ended)
        assert (await two.wait_for(ended))["answered_by"] == end["answered_by"]
        # The wrap-up the bridge starts reaches the agent who answered, on their web process.
        answered = one if end["answered_by"] == "1001" else two
        await answered.wait_for(
            lambda m: m["type"] == "state" and m["status"] == AgentStatus.WRAPUP.value
        )
        assert one.hello["epoch"] != two.hello["epoch"]  # really two processes


async def test_a_worker_killed_mid_job_loses_no_transcript(
    system: tuple[Cluster, PbxSimulator, Originates], db: Database
) -> None:
    cluster, sim, _ = system
    async with Agent(cluster.nodes["web-a"], "agent1") as agent:
        await agent.set_state("ready")
        linkedid = await sim.place_inbound_call("13800138001", answer_after=1, talk_seconds=12)
        await sim.wait_calls()
        await sim.wait_recordings()

    async def running_job() -> TranscriptionJob | None:
        async with db.session() as session:
            job = await session.scalar(
                select(TranscriptionJob)
                .join(Call, Call.id == TranscriptionJob.call_id)
                .where(Call.linkedid == linkedid)
            )
            return job if job is not None and job.status is JobStatus.RUNNING else None

    job = await eventually(running_job, 60, "a worker to take the job")
    workers = {node.pid: node for name, node in cluster.nodes.items() if name.startswith("worker")}
    victim = workers.pop(int(job.lease_owner.split(":")[-2]))
    [survivor] = workers.values()
    victim.kill()  # mid-job: its message stays pending, its lease runs out

    async def done_job() -> TranscriptionJob | None:
        async with db.session() as session:
            found = await session.get(TranscriptionJob, job.id, populate_existing=True)
            return found if found is not None and found.status is JobStatus.DONE else None

    finished = await eventually(done_job, 90, "the other worker to finish the job")
    assert finished.attempts == 2  # the killed attempt, then the survivor's
    async with db.session() as session:
        legs = list(
            await session.scalars(select(Transcript.leg).where(Transcript.call_id == job.call_id))
        )
    assert sorted(legs) == ["agent", "customer"]
    assert f"call {job.call_id} transcribed" in survivor.output()
    assert f"call {job.call_id} transcribed" not in victim.output()


async def test_killing_the_active_dialer_hands_over_without_double_dialing(
    system: tuple[Cluster, PbxSimulator, Originates], db: Database
) -> None:
    cluster, sim, originates = system
    dialers = {"dialer-a": cluster.nodes["dialer-a"], "dialer-b": cluster.nodes["dialer-b"]}
    for extension in ("1001", "1002"):
        sim.set_answer(extension, 0.5)
    async with (
        Agent(cluster.nodes["web-a"], "agent1") as one,
        Agent(cluster.nodes["web-b"], "agent2") as two,
        Agent(cluster.nodes["web-b"], "supervisor") as supervisor,
    ):
        await one.set_state("ready")
        await two.set_state("ready")
        campaign_id, task_ids = await running_campaign(db, 16, series="000")

        async def dialer_shown() -> dict[str, Any]:  # the campaign page's dialer line
            response = await supervisor.http.get(f"/api/campaigns/{campaign_id}")
            assert response.status_code == 200, response.text
            return dict(response.json()["dialer"] or {})

        async def attempts() -> list[CallbackAttempt]:
            async with db.session() as session:
                return list(
                    await session.scalars(
                        select(CallbackAttempt)
                        .where(CallbackAttempt.task_id.in_(task_ids))
                        .order_by(CallbackAttempt.id)
                    )
                )

        await eventually(lambda: _at_least(attempts, 3), 60, "the first attempts")
        # A web process has no dialer of its own: it shows theirs, through Redis (each
        # refreshes its entry every 2 s).

        async def one_active_one_standby() -> bool:
            shown = await dialer_shown()
            return (
                bool(shown.get("active")) and shown["standby"] == 1 and shown["calls_started"] >= 1
            )

        await eventually(one_active_one_standby, 15, "the page to show both dialers")
        [active] = [n for n in dialers.values() if "dialer active" in n.output()]
        [standby] = [n for n in dialers.values() if n is not active]
        active.kill()
        killed_at = SystemClock().now()
        await cluster.wait_log(standby, "dialer active", timeout=30)

        async def handed_over() -> bool:
            shown = await dialer_shown()
            return bool(shown.get("active")) and shown["standby"] == 0

        await eventually(handed_over, 30, "the page to show the new active dialer")
        await eventually(lambda: _covers(attempts, task_ids), 90, "every task to be dialed")
        await asyncio.sleep(2.0)  # anything dialed twice would show by now
        made = await attempts()
    per_task = {task_id: [a for a in made if a.task_id == task_id] for task_id in task_ids}
    assert all(len(tried) == 1 for tried in per_task.values()), per_task
    dialed = [a for a in originates.attempts if a in {m.id for m in made}]
    assert len(dialed) == len(set(dialed)), "an attempt was dialed twice"
    assert any(a.started_at >= killed_at for a in made), "the standby dialed nothing"


async def _at_least(attempts: Callable[[], Any], count: int) -> bool:
    return len(await attempts()) >= count


async def _covers(attempts: Callable[[], Any], task_ids: list[int]) -> bool:
    return {a.task_id for a in await attempts()} >= set(task_ids)
