"""The one event bus inside a process: publishers never wait, each subscriber gets its events
in order on its own task, and a failing subscriber is logged without stopping the others."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


@dataclass(eq=False)
class Subscription:
    name: str
    handler: Handler
    types: tuple[type, ...] | None
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None

    def wants(self, event: Any) -> bool:
        return self.types is None or isinstance(event, self.types)


class EventBus:
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

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        if subscription.task is not None:
            subscription.task.cancel()

    def publish(self, event: Any) -> None:
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

    async def close(self) -> None:
        self._closed = True
        tasks = [s.task for s in self._subscriptions if s.task is not None]
        for subscription in list(self._subscriptions):
            self.unsubscribe(subscription)
        await asyncio.gather(*tasks, return_exceptions=True)

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
