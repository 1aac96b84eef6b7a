"""Stopping a background task for good, in every layer (crm, telephony, web).

A single `task.cancel()` is not always the end of a task: redis-py can swallow a cancel that
lands while a blocking read times out, and the task goes on reading. Whoever waits for it
then waits forever (a shutdown hung on it once, and the test suite at 99%)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel the task and wait for its end, cancelling again until it is done."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    with contextlib.suppress(asyncio.CancelledError):
        await task
