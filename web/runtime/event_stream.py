"""The events stream: what the bridge sees, for every web process, and the bus built on it.

Publishing never blocks the caller: events wait in a local queue and one sender adds them
to the stream in order, retrying while Redis is away (nothing is dropped). Every web process
follows the whole stream (a fan-out read from where it stood when it started, not a consumer
group: each websocket holder must see every event) and hands each event to its local bus.
An entry read twice (after a reconnect, or a publisher's retry that had in fact succeeded)
is recognised by its event id and delivered once. `RedisStreamBus` makes the stream a `Bus`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from crm.bus import Event, Handler, LocalBus, Subscription
from crm.clock import Clock
from crm.stopping import stop_task
from web.runtime.codec import UnknownEvent, decode, encode

log = logging.getLogger(__name__)

EVENTS_STREAM = "callcentre:events"
MAX_LENGTH = 100_000  # entries kept (approximately): minutes of traffic for a late reader
SEEN_IDS = 10_000
SEND_BATCH = 500  # entries written to the stream in one round trip, at most


class EventStream:
    def __init__(
        self,
        redis: Redis,
        *,
        clock: Clock,
        stream: str = EVENTS_STREAM,
        block_ms: int = 5_000,
    ) -> None:
        self.redis = redis
        self.clock = clock
        self.stream = stream
        self.block_ms = block_ms
        self._outgoing: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.published = 0
        self.round_trips = 0  # to Redis, for what was published
        self.delivered = 0

    # -- publishing -----------------------------------------------------------------------

    def publish(self, event: Event) -> None:
        """Queue the event for the stream; never blocks."""
        self._outgoing.put_nowait(encode(event))

    async def drain(self) -> None:
        """Wait until everything published so far is in the stream (tests, shutdown)."""
        await self._outgoing.join()

    async def run_sender(self, *, batch: int = SEND_BATCH) -> None:
        """Write what is queued to the stream, in order: everything waiting (up to `batch`)
        in one pipeline, one round trip. One XADD per round trip capped the bridge at a few
        hundred events a second on a loaded machine; on the busy day, with every wrap-up's
        pause and state on time, pops queued behind the rest for 40 s. A batch that fails is
        sent again whole: a follower skips the entries it already has (`_deliver_once`)."""
        backoff = 0.2
        while True:
            entries = [await self._outgoing.get()]
            while len(entries) < batch and not self._outgoing.empty():
                entries.append(self._outgoing.get_nowait())
            while True:
                try:
                    async with self.redis.pipeline(transaction=False) as pipe:
                        for entry in entries:
                            pipe.xadd(
                                self.stream,
                                entry,  # type: ignore[arg-type]
                                maxlen=MAX_LENGTH,
                                approximate=True,
                            )
                        await pipe.execute()
                    self.published += len(entries)
                    self.round_trips += 1
                    backoff = 0.2
                    break
                except RedisError as exc:
                    log.warning("cannot publish to Redis (%s); retrying in %.1f s", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 10.0)
            for _ in entries:
                self._outgoing.task_done()

    # -- following ------------------------------------------------------------------------

    async def start_position(self) -> str:
        """The id of the newest entry now: following starts after it."""
        while True:
            try:
                newest: Any = await self.redis.xrevrange(self.stream, count=1)
                return str(newest[0][0]) if newest else "0-0"
            except RedisError as exc:
                log.warning("cannot reach Redis (%s); retrying", exc)
                await asyncio.sleep(1.0)

    async def follow(
        self, deliver: Callable[[Event], None], *, position: str | None = None
    ) -> None:
        """Hand every new entry's event to `deliver`, once each, in stream order."""
        last = position or await self.start_position()
        backoff = 0.2
        while True:
            try:
                batches: Any = await self.redis.xread(
                    {self.stream: last}, count=500, block=self.block_ms
                )
                backoff = 0.2
            except RedisError as exc:
                log.warning("lost the Redis events stream (%s); resuming in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            for _stream, entries in batches or ():
                for entry_id, fields in entries:
                    last = str(entry_id)
                    self._deliver_once(fields, deliver)

    def _deliver_once(self, fields: dict[str, str], deliver: Callable[[Event], None]) -> None:
        try:
            event_id, event = decode(fields, arrived=self.clock.monotonic())
        except (UnknownEvent, ValueError, KeyError) as exc:
            log.warning("skipping a stream entry: %s", exc)
            return
        if event_id in self._seen:
            return
        self._seen[event_id] = None
        while len(self._seen) > SEEN_IDS:
            self._seen.popitem(last=False)
        self.delivered += 1
        deliver(event)


class RedisStreamBus:
    """The bus of a process among several. An event that crosses processes goes on the
    stream, and this process's subscribers get every one from the stream, its own included,
    once each and in stream order; an event that does not (`crosses_processes = False`)
    stays with this process's subscribers. The stream is sent to from the first publish on
    and followed from the first subscription on: a process that only publishes (a bridge,
    a worker) never reads it."""

    spans_processes = True

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self._local = LocalBus()
        self._sending: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self._closed = False

    def publish(self, event: Event) -> None:
        if self._closed:
            return
        if not event.crosses_processes:
            self._local.publish(event)
            return
        if self._sending is None:
            self._sending = asyncio.create_task(self.stream.run_sender(), name="events-out")
        self.stream.publish(event)

    def subscribe(
        self, handler: Handler, *, name: str, types: tuple[type, ...] | None = None
    ) -> Subscription:
        if self._following is None and not self._closed:
            self._following = asyncio.create_task(
                self.stream.follow(self._local.publish), name="events-in"
            )
        return self._local.subscribe(handler, name=name, types=types)

    async def unsubscribe(self, subscription: Subscription) -> None:
        await self._local.unsubscribe(subscription)

    def waiting(self) -> dict[str, int]:
        return self._local.waiting()

    async def drain(self) -> None:
        """Wait until what was published is in the stream, and what arrived is handled."""
        if self._sending is not None:
            await self.stream.drain()
        await self._local.drain()

    async def close(self) -> None:
        self._closed = True
        for task in (self._following, self._sending):
            if task is not None:
                await stop_task(task)
        await self._local.close()
