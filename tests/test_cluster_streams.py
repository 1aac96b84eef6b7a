"""The pieces that join processes, against a real Redis: events cross as they were, once
each and in order; roles parse; a transcription job handed out twice is done once, and a
dead consumer's job is taken over."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT
from sqlalchemy import func, select

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.settings import load_settings
from crm.stopping import stop_task
from crm.transcripts.flows import on_call_ended
from crm.transcripts.models import JobStatus, Transcript, TranscriptionJob
from crm.users import service as users
from crm.users.models import Role
from telephony.dialer_board import TTL_SECONDS, DialerBoard, dialer_key
from telephony.events import AgentRinging, CallEnded, CallRecord
from telephony.speech.job_stream import JobStream, StreamWorker
from telephony.speech.recognizer import Transcript as Heard
from telephony.speech.recognizer import Word
from telephony.speech.worker import TranscriptionWorker
from tests.support.redis import RedisServer
from tests.support.waiting import until
from web.app import create_app
from web.events import UserMessage
from web.runtime.codec import decode, encode
from web.runtime.event_stream import EventStream
from web.runtime.process import connect_redis
from web.runtime.roles import ALL_ROLES, ProcessRole, parse_roles
from web.services import Services
from web.users import extensions_changed

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """The client as every process makes it (web/runtime/process.py)."""
    client = connect_redis(load_settings(redis_url=redis_server.url))
    assert client is not None
    yield client
    await client.aclose()


async def test_blocking_reads_wait_as_long_as_they_asked(redis: Redis) -> None:
    """The events stream blocks 5 s on a quiet stream and a PBX request waits seconds for the
    bridge: the client's read timeout must not cut either short (redis-py 8's default of 5 s
    did: "Timeout reading from ...")."""
    started = asyncio.get_running_loop().time()
    assert await redis.blpop([f"callcentre:test:{uuid.uuid4().hex}"], timeout=6) is None
    assert asyncio.get_running_loop().time() - started >= 5.5


def test_roles_repeat_or_combine_and_default_to_all() -> None:
    assert parse_roles(["bridge,web", "worker"]) == {
        ProcessRole.BRIDGE,
        ProcessRole.WEB,
        ProcessRole.WORKER,
    }
    assert parse_roles([]) == ALL_ROLES
    with pytest.raises(ValueError, match="unknown role 'dailer'"):
        parse_roles(["dailer"])


def test_events_cross_processes_as_they_were() -> None:
    record = CallRecord(
        "1.1",
        Direction.INBOUND,
        AT,
        caller="13800138000",
        agents_rung=("PJSIP/1001", "PJSIP/1002"),
        outcome=CallOutcome.ANSWERED,
        ended_at=AT + timedelta(seconds=30),
        talk_seconds=20.5,
    )
    for event in (CallEnded(record), UserMessage(7, "state", {"status": "wrapup"})):
        entry = encode(event, "id-1")
        assert decode(entry, arrived=12.5) == ("id-1", event)
    ringing = AgentRinging(
        "1.1", "PJSIP/1001", "1001", "138", "service", Direction.INBOUND, AT, received_at=-5.0
    )
    _, decoded = decode(encode(ringing), arrived=12.5)
    assert decoded == ringing and decoded.received_at == 12.5  # this process's arrival time


async def test_each_web_process_gets_every_event_once_in_order(redis: Redis) -> None:
    name = f"events-{uuid.uuid4().hex}"
    publisher = EventStream(redis, stream=name, clock=SystemClock())
    readers = [EventStream(redis, stream=name, block_ms=100, clock=SystemClock()) for _ in range(2)]
    received: list[list[Any]] = [[], []]
    starts = [await reader.start_position() for reader in readers]
    following = [
        asyncio.create_task(reader.follow(got.append, position=start))
        for reader, got, start in zip(readers, received, starts, strict=True)
    ]
    sender = asyncio.create_task(publisher.run_sender())
    events = [UserMessage(n, "state", {"n": n}) for n in range(20)]
    for event in events:
        publisher.publish(event)
    await publisher.drain()
    # A publisher's retry after an answer it never saw: the same entry, the same event id.
    # (Built key by key: redis-py types an entry as a dict of its own key and value types.)
    retried: dict[FieldT, EncodableT] = dict(encode(UserMessage(99, "state"), "retried").items())
    await redis.xadd(name, retried)
    await redis.xadd(name, retried)
    try:
        for got in received:
            while len(got) < 21:
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert received[0] == received[1] == [*events, UserMessage(99, "state")]
    finally:
        for task in (*following, sender):
            await stop_task(task)  # redis-py may swallow one cancel: a lone one hung the suite


async def test_what_waits_is_written_in_one_round_trip_in_order(redis: Redis) -> None:
    """The bridge writes every PBX event, pop and state change to one stream: what queued
    while the last write was out goes in the next one whole (a pipeline of XADDs, at most
    `batch`), not one round trip each (on the busy day the pops waited 40 s behind the
    rest). Its order is the order published; a follower gets each once."""
    name = f"events-{uuid.uuid4().hex}"
    publisher = EventStream(redis, stream=name, clock=SystemClock())
    reader = EventStream(redis, stream=name, block_ms=100, clock=SystemClock())
    received: list[Any] = []
    following = asyncio.create_task(
        reader.follow(received.append, position=await reader.start_position())
    )
    events = [UserMessage(n, "state", {"n": n}) for n in range(1200)]
    for event in events:  # a burst: all queued before the sender runs
        publisher.publish(event)
    sender = asyncio.create_task(publisher.run_sender(batch=500))
    try:
        await publisher.drain()
        assert publisher.published == 1200
        assert publisher.round_trips == 3  # 500 + 500 + 200
        await until(lambda: len(received) == 1200)
        assert received == events
    finally:
        for task in (following, sender):
            await stop_task(task)  # redis-py may swallow one cancel: a lone one hung the suite


class Transcriber:
    """Says the same two words for every file, and counts the files it was given."""

    workers = 1

    def __init__(self) -> None:
        self.files: list[str] = []

    def submit(self, path: Path) -> Future[Heard]:
        self.files.append(path.name)
        future: Future[Heard] = Future()
        future.set_result(Heard(str(path), 3.0, 8000, "fake", (Word("您好", 0.2, 0.6, 1.0),)))
        return future


async def _queued_job(db: Database) -> int:
    async with db.session() as session:
        call = Call(
            linkedid=uuid.uuid4().hex,
            direction=Direction.INBOUND,
            started_at=AT,
            answered_at=AT + timedelta(seconds=4),
            ended_at=AT + timedelta(seconds=30),
            outcome=CallOutcome.ANSWERED,
            ring_seconds=4.0,
            hung_up_by=HungUpBy.CUSTOMER,
            recording_agent="/monitor/a-agent.wav",
            recording_customer="/monitor/a-customer.wav",
        )
        session.add(call)
        await session.flush()
        call_id = call.id
    job_id = await on_call_ended(db, call_id)
    assert job_id is not None
    return job_id


def _worker(
    db: Database, tmp_path: Path, transcriber: Transcriber, clock: FixedClock, name: str
) -> TranscriptionWorker:
    for leg in ("agent", "customer"):  # the transcriber never reads them
        (tmp_path / f"a-{leg}.wav").touch()
    settings = load_settings(
        database_url=db.url, recordings_dir=tmp_path, recordings_pbx_dir="/monitor"
    )
    return TranscriptionWorker(db, settings, transcriber, clock=clock, name=name, lease_seconds=1.0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_job_handed_out_twice_is_done_once(
    db: Database, redis: Redis, tmp_path: Path, clock: FixedClock
) -> None:
    job_id = await _queued_job(db)
    stream = JobStream(redis, stream=f"jobs-{uuid.uuid4().hex}")
    await stream.ensure_group()
    await stream.add([job_id, job_id])  # announced twice (a sweeper and the bridge)
    transcriber = Transcriber()
    worker = StreamWorker(_worker(db, tmp_path, transcriber, clock, "w1"), stream)
    for message in await stream.read("w1", block_ms=100) + await stream.read("w1", block_ms=100):
        await worker.handle(message)
    assert transcriber.files == ["a-agent.wav", "a-customer.wav"]  # once each
    async with db.session() as session:
        job = await session.get(TranscriptionJob, job_id)
        assert job is not None and (job.status, job.attempts) == (JobStatus.DONE, 1)
        assert await session.scalar(select(func.count()).select_from(Transcript)) == 2
    assert await redis.xpending(stream.stream, stream.group) == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }  # both acknowledged


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_dead_consumers_job_is_taken_over_after_its_lease(
    db: Database, redis: Redis, tmp_path: Path, clock: FixedClock
) -> None:
    job_id = await _queued_job(db)
    stream = JobStream(redis, stream=f"jobs-{uuid.uuid4().hex}")
    await stream.ensure_group()
    await stream.add([job_id])
    dead = _worker(db, tmp_path, Transcriber(), clock, "dead")
    [message] = await stream.read("dead", block_ms=100)
    claim, _ = await dead.claim_given(message.job_id)  # claimed, then the process dies
    assert claim is not None

    transcriber = Transcriber()
    survivor = StreamWorker(_worker(db, tmp_path, transcriber, clock, "alive"), stream)
    assert await stream.reclaim("alive", min_idle_ms=survivor.min_idle_ms) == []  # too soon
    await asyncio.sleep(1.1)
    [taken] = await stream.reclaim("alive", min_idle_ms=survivor.min_idle_ms)
    await survivor.handle(taken)  # the lease still holds: left pending, not done
    assert transcriber.files == []
    clock.advance(seconds=2)  # the dead worker's lease runs out
    await asyncio.sleep(1.1)
    [again] = await stream.reclaim("alive", min_idle_ms=survivor.min_idle_ms)
    await survivor.handle(again)
    assert transcriber.files == ["a-agent.wav", "a-customer.wav"]
    async with db.session() as session:
        job = await session.get(TranscriptionJob, job_id)
        assert job is not None and (job.status, job.attempts) == (JobStatus.DONE, 2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_workers_make_the_group_again_when_redis_comes_back_empty(
    db: Database, redis: Redis, tmp_path: Path, clock: FixedClock
) -> None:
    """A Redis restarted without its data (no persistence) has no stream and no group: the
    workers used to fail on NOGROUP forever, and no job was transcribed again."""
    stream = JobStream(redis, stream=f"jobs-{uuid.uuid4().hex}")
    await stream.ensure_group()
    transcriber = Transcriber()
    worker = StreamWorker(_worker(db, tmp_path, transcriber, clock, "w1"), stream, block_ms=100)
    stop = asyncio.Event()
    loop = asyncio.create_task(worker._loop(stop))
    await asyncio.sleep(0.3)
    await redis.delete(stream.stream)  # what a restart without persistence leaves
    job_id = await _queued_job(db)
    await stream.add([job_id])  # the bridge (or the sweeper) announces a job
    await until(lambda: transcriber.files == ["a-agent.wav", "a-customer.wav"], timeout=10)
    stop.set()
    await asyncio.wait_for(loop, 5)
    async with db.session() as session:
        job = await session.get(TranscriptionJob, job_id)
        assert job is not None and job.status is JobStatus.DONE


async def test_the_bridge_answers_pbx_requests_again_when_redis_comes_back_empty(
    redis: Redis,
) -> None:
    from types import SimpleNamespace

    from crm.agents.models import AgentStatus
    from telephony.agent_sync import AgentPbxSync, AgentTarget
    from telephony.bridge import Bridge
    from telephony.pbx_requests import PbxCommandServer, RemotePbx, commands_stream

    applied: list[str] = []

    class Sync:
        async def apply(self, target: AgentTarget) -> bool:
            applied.append(target.extension)
            return True

    pbx_id = f"pbx-{uuid.uuid4().hex[:8]}"
    # Stand-ins: the server reads only the bridge's pbx_id and clock, and calls the sync's
    # apply here.
    bridge = cast(
        Bridge, SimpleNamespace(settings=SimpleNamespace(pbx_id=pbx_id), clock=SystemClock())
    )
    server = PbxCommandServer(redis, bridge, cast(AgentPbxSync, Sync()), block_ms=100)
    serving = asyncio.create_task(server.run())

    async def group_made() -> bool:
        return bool(await redis.exists(commands_stream(pbx_id)))

    await until(group_made)
    remote = RemotePbx(redis, pbx_id, clock=SystemClock())
    target = AgentTarget(extension="1001", name="a", status=AgentStatus.READY, reason=None)
    assert await remote.apply(target) is True
    await redis.delete(commands_stream(pbx_id))  # a restart without persistence
    assert await remote.apply(target) is True
    assert applied == ["1001", "1001"]
    await stop_task(serving)  # redis-py may swallow one cancel


def test_serve_refuses_a_web_without_its_bridge_and_no_redis() -> None:
    from click.testing import CliRunner

    from web.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--role", "web"], obj={})
    assert result.exit_code != 0 and "CALLCENTRE_REDIS_URL" in result.output
    result = CliRunner().invoke(cli, ["serve", "--role", "brige"], obj={})
    assert result.exit_code != 0 and "unknown role 'brige'" in result.output


async def test_the_dialer_board_shows_the_active_dialer_and_forgets_dead_ones(redis: Redis) -> None:
    await _forget_dialers(redis)
    board = DialerBoard(redis)
    assert await board.status() is None  # no dialer running anywhere
    states: dict[str, dict[str, Any]] = {
        "a": {"active": True, "calls_started": 7},
        "b": {"active": False, "calls_started": 0},
    }
    publishers = {
        name: asyncio.create_task(board.publish(name, state.copy, interval=0.05))
        for name, state in states.items()
    }
    await until(lambda: _shows(board, {"active": True, "calls_started": 7, "standby": 1}), 5)
    assert 0 < await redis.ttl(dialer_key("a")) <= TTL_SECONDS

    # A dialer that died stops refreshing its key: once it expires, it is gone. A value that
    # is not a dialer's state is ignored.
    await redis.set(dialer_key("dead"), json.dumps({"active": True, "calls_started": 3}), px=100)
    await redis.set(dialer_key("garbled"), "not json", px=100)
    assert await board.status() == {"active": True, "calls_started": 10, "standby": 1}
    await asyncio.sleep(0.2)
    assert await board.status() == {"active": True, "calls_started": 7, "standby": 1}
    assert sorted(await redis.keys(dialer_key("*"))) == [dialer_key("a"), dialer_key("b")]

    # One that stops cleanly takes its key with it.
    await stop_task(publishers["a"])
    assert await board.status() == {"active": False, "calls_started": 0, "standby": 1}
    await stop_task(publishers["b"])
    assert await board.status() is None


async def _forget_dialers(redis: Redis) -> None:
    for key in await redis.keys(dialer_key("*")):
        await redis.delete(key)


async def test_the_dialer_board_without_redis_says_nothing_rather_than_fail() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        assert await DialerBoard(unreachable).status() is None
    finally:
        await unreachable.aclose()


async def _shows(board: DialerBoard, expected: dict[str, object]) -> bool:
    return await board.status() == expected


async def test_a_user_changed_on_one_process_is_read_again_on_every_other(
    redis_server: RedisServer, sqlite_url: str
) -> None:
    """Two web processes joined by Redis: an extension moved through one is what a ring on
    the other finds at once, not 30 s later when its kept directory would have aged."""
    url = sqlite_url
    settings = load_settings(database_url=url, redis_url=redis_server.url, dialer_enabled=False)
    db = Database(url)
    async with db.session() as session:
        agent = await users.create(
            session,
            username="agent7",
            password="password-7",
            display_name="坐席7",
            role=Role.AGENT,
            extension="1007",
        )
    apps = [
        create_app(settings, roles=frozenset({ProcessRole.WEB}), clock=SystemClock())
        for _ in range(2)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for app in apps:
            await stack.enter_async_context(app.router.lifespan_context(app))
        here, there = (cast(Services, app.state.services) for app in apps)
        assert await there.extensions.user_id("1007") == agent.id  # kept for 30 s from now
        async with db.session() as session:
            moved = await users.get_or_raise(session, agent.id)
            await users.update(session, moved, extension="1008")
        extensions_changed(here, agent.id)  # what the users API does once it committed
        await until(lambda: there.extensions._read_at == -math.inf)
        assert await there.extensions.user_id("1007") is None
        assert await there.extensions.user_id("1008") == agent.id
    await db.dispose()
