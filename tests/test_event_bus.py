"""The event vocabulary and its two buses: every event class is known to the codec and
crosses processes as it was; the Redis bus carries what crosses through the stream to every
following process and keeps the rest local, as the in-process bus does."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import importlib
import pkgutil
import types
import typing
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis

import crm
import telephony
import web
from crm.agents.events import AgentStateChanged
from crm.agents.models import AgentStatus
from crm.bus import Event, LocalBus, events_of
from crm.calls.models import CallOutcome, Direction
from crm.clock import SystemClock
from telephony.events import CallEnded, CallRecord, CallUpdated, RingStopped, RingStopReason
from tests.support.redis import RedisServer
from tests.support.waiting import until
from web.events import UserMessage
from web.runtime.codec import CROSSING, EVENTS, UnknownEvent, decode, encode
from web.runtime.event_stream import EventStream, RedisStreamBus

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
RECORD = CallRecord(
    "1.1", Direction.INBOUND, AT, caller="13800138000", outcome=CallOutcome.ANSWERED, ended_at=AT
)


def _every_product_module() -> list[types.ModuleType]:
    modules = []
    for package in (crm, telephony, web):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            modules.append(importlib.import_module(info.name))
    return modules


def test_the_codec_knows_every_event_the_product_defines() -> None:
    defined = {cls for module in _every_product_module() for cls in events_of(module)}
    assert defined == set(EVENTS)
    assert len({cls.__name__ for cls in CROSSING}) == len(CROSSING)  # the wire's key
    assert {CallUpdated, AgentStateChanged} == set(EVENTS) - set(CROSSING)


def _sample(hint: Any) -> Any:
    """A value of the annotated type, with every optional part present."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return _sample(next(arg for arg in args if arg is not type(None)))
    if origin is tuple:
        return (_sample(args[0]),)
    if origin is dict:
        return {"status": "wrapup", "n": 2}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[-1]
    if dataclasses.is_dataclass(hint):
        assert isinstance(hint, type)
        return _instance(hint)
    samples: dict[Any, Any] = {bool: True, int: 7, float: 20.5, str: "1001", datetime: AT}
    return samples[hint]


def _instance(cls: type) -> Any:
    hints = typing.get_type_hints(cls)
    return cls(**{f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("cls", CROSSING, ids=lambda cls: cls.__name__)
def test_each_event_crosses_processes_as_it_was(cls: type[Event]) -> None:
    event = _instance(cls)
    assert decode(encode(event, "id-1"), arrived=0.0) == ("id-1", event)


def test_an_event_that_stays_in_its_process_has_no_wire_form() -> None:
    with pytest.raises(UnknownEvent, match="CallUpdated is not an event that crosses"):
        encode(CallUpdated(RECORD))
    with pytest.raises(UnknownEvent, match="unknown event type 'CallUpdated'"):
        decode({"type": "CallUpdated", "id": "x", "data": "{}"}, arrived=0.0)


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_server.url, decode_responses=True)
    yield client
    await client.aclose()


async def test_the_redis_bus_reaches_every_following_process_and_keeps_local_events_local(
    redis: Redis,
) -> None:
    name = f"events-{uuid.uuid4().hex}"
    bridge, web_1, web_2 = (
        RedisStreamBus(EventStream(redis, stream=name, block_ms=100, clock=SystemClock()))
        for _ in range(3)
    )
    got: dict[str, list[Event]] = {"web-1": [], "web-2": []}

    def recorder(key: str) -> Any:
        async def record(event: Event) -> None:
            got[key].append(event)

        return record

    web_1.subscribe(recorder("web-1"), name="test")
    web_2.subscribe(recorder("web-2"), name="test", types=(CallEnded,))
    await asyncio.sleep(0.3)  # both follow the stream from its end
    try:
        # a process that only publishes (the bridge) does not read the stream
        assert _tasks_named("events-in") == 2
        ended = CallEnded(RECORD)
        stopped = RingStopped("1.1", "PJSIP/1002", "1002", RingStopReason.ANSWERED_ELSEWHERE, AT)
        for event in (ended, stopped):
            bridge.publish(event)
        web_1.publish(AgentStateChanged(3, AgentStatus.READY))  # this process's only
        await until(lambda: len(got["web-1"]) == 3, timeout=10)
        message = UserMessage(3, "state", {"status": "ready"})
        web_1.publish(message)  # back to its own subscribers too, through the stream
        await until(lambda: len(got["web-1"]) == 4, timeout=10)
        await asyncio.sleep(0.3)
        assert got["web-1"] == [AgentStateChanged(3, AgentStatus.READY), ended, stopped, message]
        assert got["web-2"] == [ended]
        assert await redis.xlen(name) == 3  # the local event never went on the stream
    finally:
        for bus in (bridge, web_1, web_2):
            await bus.close()
    assert _tasks_named("events-in") == _tasks_named("events-out") == 0
    bridge.publish(CallEnded(RECORD))  # after close: dropped, no sender starts again
    assert _tasks_named("events-out") == 0


def _tasks_named(name: str) -> int:
    return sum(1 for task in asyncio.all_tasks() if task.get_name() == name and not task.done())


async def test_the_local_bus_delivers_in_order_and_survives_a_failing_subscriber() -> None:
    bus = LocalBus()
    got: list[Event] = []

    async def fails(event: Event) -> None:
        raise RuntimeError("boom")

    async def record(event: Event) -> None:
        got.append(event)

    bus.subscribe(fails, name="fails")
    subscription = bus.subscribe(record, name="record", types=(CallEnded,))
    events = [CallEnded(RECORD), CallUpdated(RECORD), CallEnded(RECORD)]
    for event in events:
        bus.publish(event)
    await bus.drain()
    assert got == [events[0], events[2]]
    await bus.unsubscribe(subscription)
    assert subscription.task is not None and subscription.task.done()
    bus.publish(CallEnded(RECORD))
    await bus.close()
    assert got == [events[0], events[2]]


async def test_the_bus_says_what_each_subscriber_has_yet_to_handle() -> None:
    """A subscriber that falls behind shows by name (/metrics: callcentre_bus_waiting_events)
    before its queue shows in the process's memory: on the busy day the wrap-ups fell minutes
    behind and only the bridge's growth said so."""
    bus = LocalBus()
    held = asyncio.Event()
    handled: list[Event] = []

    async def slow(event: Event) -> None:
        await held.wait()
        handled.append(event)

    async def quick(event: Event) -> None:
        handled.append(event)

    bus.subscribe(slow, name="wrap-ups", types=(CallEnded,))
    bus.subscribe(quick, name="everything")
    for _ in range(3):
        bus.publish(CallEnded(RECORD))
    bus.publish(CallUpdated(RECORD))
    await until(lambda: bus.waiting()["everything"] == 0)
    # The slow one has one in hand and two waiting.
    assert bus.waiting() == {"wrap-ups": 2, "everything": 0}
    held.set()
    await bus.drain()
    assert bus.waiting() == {"wrap-ups": 0, "everything": 0}
    await bus.close()
