"""crm.stopping.stop_task: a task that swallows its cancel (as redis-py can, mid-read) still
stops, in every layer that starts background tasks."""

from __future__ import annotations

import asyncio

from crm.stopping import stop_task


async def _swallowing_the_first_cancels(swallow: int, stopped: list[int]) -> None:
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            if swallow == 0:
                stopped.append(1)
                raise
            swallow -= 1  # a read that timed out just as the cancel came: it goes on


async def test_a_task_that_swallows_cancels_is_stopped_all_the_same() -> None:
    stopped: list[int] = []
    task = asyncio.create_task(_swallowing_the_first_cancels(2, stopped))
    await asyncio.sleep(0)
    task.cancel()  # what a lone cancel does: the task goes on
    await asyncio.wait({task}, timeout=0.05)
    assert not task.done()
    await asyncio.wait_for(stop_task(task), timeout=5)
    assert task.cancelled() and stopped == [1]


async def test_a_task_already_done_or_plain_stops_at_once() -> None:
    finished = asyncio.create_task(asyncio.sleep(0))
    await finished
    await stop_task(finished)
    sleeping = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.wait_for(stop_task(sleeping), timeout=1)
    assert sleeping.cancelled()
