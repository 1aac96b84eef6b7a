"""Work a role starts and the process's AsyncExitStack ends: a background task, a bus
subscription. The stack ends them in reverse order of starting, so whatever started later
(and may use what started earlier) stops first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any

from crm.bus import Bus, Handler, Subscription


def start_task(
    stack: AsyncExitStack, work: Coroutine[Any, Any, Any], *, name: str
) -> asyncio.Task[Any]:
    """Run `work` in the background until the stack unwinds."""
    task = asyncio.create_task(work, name=name)
    stack.push_async_callback(stop_task, task)
    return task


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel the task and wait for its end. redis-py can swallow a cancel that lands while a
    blocking read times out: cancel again until the task is done, or shutdown waits
    forever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def subscribe(
    stack: AsyncExitStack,
    bus: Bus,
    handler: Handler,
    *,
    name: str,
    types: tuple[type, ...] | None = None,
) -> Subscription:
    """`bus.subscribe`, ended when the stack unwinds."""
    subscription = bus.subscribe(handler, name=name, types=types)
    stack.push_async_callback(bus.unsubscribe, subscription)
    return subscription
