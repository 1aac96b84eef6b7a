"""Work a role starts and the process's AsyncExitStack ends: a background task, a bus
subscription. The stack ends them in reverse order of starting, so whatever started later
(and may use what started earlier) stops first."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any

from crm.bus import Bus, Handler, Subscription
from crm.stopping import stop_task


def start_task(
    stack: AsyncExitStack, work: Coroutine[Any, Any, Any], *, name: str
) -> asyncio.Task[Any]:
    """Run `work` in the background until the stack unwinds."""
    task = asyncio.create_task(work, name=name)
    stack.push_async_callback(stop_task, task)
    return task


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
