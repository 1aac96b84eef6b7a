"""The event bus: what one part of the system tells the others, without knowing who listens.

Every event is a frozen dataclass deriving from `Event`, defined once, in the events module
of the part that publishes it (`telephony/events.py`, `crm/agents/events.py`,
`web/events.py`). A `Bus` carries them: `LocalBus` inside one process; when several
processes share the work, the Redis events stream (`web/runtime/event_stream.py`), chosen in
one place (`web/runtime/process.py`). Publishers never wait, each subscriber gets its events
in order on its own task, and a failing subscriber is logged without stopping the others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Protocol

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


class Event:
    """Base of every event. One that only this process's subscribers need (a call's stored
    fields changed, say) sets `crosses_processes = False` and never goes on the stream."""

    __slots__ = ()
    crosses_processes: ClassVar[bool] = True


def events_of(module: ModuleType) -> list[type[Event]]:
    """The event classes a module defines (not those it imports), in definition order."""
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, Event)
        and value is not Event
        and value.__module__ == module.__name__
    ]


@dataclass(eq=False)
class Subscription:
    name: str
    handler: Handler
    types: tuple[type, ...] | None
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def wants(self, event: Event) -> bool:
        return self.types is None or isinstance(event, self.types)


class Bus(Protocol):
    """What publishers and subscribers see of a bus, whichever carries the events."""

    @property
    def spans_processes(self) -> bool:
        """Whether a published event reaches the other processes' subscribers too."""
        ...

    def publish(self, event: Event) -> None:
        """Hand the event on; never blocks."""
        ...

    def subscribe(
        self, handler: Handler, *, name: str, types: tuple[type, ...] | None = None
    ) -> Subscription:
        """Call `handler` for every event of `types` (all when None), in order."""
        ...

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop the subscription's deliveries (the one in hand is cancelled)."""
        ...

    async def drain(self) -> None:
        """Wait until what was published so far is handled (tests)."""
        ...

    def waiting(self) -> dict[str, int]:
        """Events handed to each subscription and not handled yet, by its name: a subscriber
        that falls behind shows here before its queue shows in the process's memory."""
        ...

    async def close(self) -> None:
        """End every subscription; later events are dropped."""
        ...


class LocalBus:
    """The bus inside one process."""

    spans_processes = False

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def subscribe(
        self, handler: Handler, *, name: str, types: tuple[type, ...] | None = None
    ) -> Subscription:
        """Call `handler` for every published event of `types` (all when None)."""
        subscription = Subscription(name, handler, types)
        subscription.task = asyncio.create_task(self._deliver(subscription), name=f"bus:{name}")
        self._subscriptions.append(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if subscription.task is not None:
            subscription.task.cancel()
            await asyncio.gather(subscription.task, return_exceptions=True)

    def publish(self, event: Event) -> None:
        """Hand the event to every interested subscriber; never blocks."""
        if self._closed:
            return
        for subscription in self._subscriptions:
            if subscription.wants(event):
                subscription.queue.put_nowait(event)

    async def drain(self) -> None:
        """Wait until every subscriber has handled what was published (tests, shutdown)."""
        for subscription in list(self._subscriptions):
            await subscription.queue.join()

    def waiting(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for subscription in self._subscriptions:
            counts[subscription.name] = counts.get(subscription.name, 0) + (
                subscription.queue.qsize()
            )
        return counts

    async def close(self) -> None:
        self._closed = True
        await asyncio.gather(*(self.unsubscribe(s) for s in list(self._subscriptions)))

    @staticmethod
    async def _deliver(subscription: Subscription) -> None:
        while True:
            event = await subscription.queue.get()
            try:
                await subscription.handler(event)
            except Exception:
                log.exception("subscriber %s failed on %s", subscription.name, type(event).__name__)
            finally:
                subscription.queue.task_done()
