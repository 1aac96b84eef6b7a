"""Heap trimming: memory freed after a peak goes back to the system (glibc keeps it
otherwise), the loop runs it in a thread, and /metrics shows the live Python heap beside what
trimming returned, so that a dashboard tells a leak from an allocator's high-water mark."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import running_app
from tests.support.tools import missing
from tests.support.waiting import until
from web.runtime.heap_trim import HeapTrim, glibc_malloc_trim, resident_bytes

PEAK_CHUNKS = 12_000
CHUNK = 4_000  # under glibc's mmap threshold: from the heap, as AMI frames and rows are


def test_memory_freed_after_a_peak_goes_back_to_the_system() -> None:
    """A peak of 48 MB in 4 kB pieces, freed but for one piece in 64 (as a process keeps some
    of what a peak made): the kept pieces hold the heap above the freed ones, so glibc keeps
    those pages resident until they are trimmed."""
    if glibc_malloc_trim() is None:  # every Debian has it: CI fails here rather than skip
        missing("no glibc malloc_trim in this C library (musl, macOS)")
    trim = HeapTrim(glibc_malloc_trim())
    trim.trim_now()  # whatever earlier tests left
    base = resident_bytes()
    peak = [bytearray(CHUNK) for _ in range(PEAK_CHUNKS)]
    for piece in peak:
        piece[::512] = b"x" * len(piece[::512])  # touched: resident
    kept = peak[63::64]
    peak_size = PEAK_CHUNKS * CHUNK
    assert resident_bytes() - base > 0.8 * peak_size
    del peak
    held = resident_bytes() - base
    assert held > 0.8 * peak_size  # freed, and still the process's
    returned = trim.trim_now()
    assert returned > 0.7 * peak_size
    assert resident_bytes() - base < 0.3 * peak_size
    assert trim.returned_bytes >= returned and trim.runs == 2
    assert len(kept) == PEAK_CHUNKS // 64


async def test_the_trim_runs_in_a_thread_every_period() -> None:
    calls: list[int] = []

    def fake_trim(pad: int) -> int:
        calls.append(pad)
        return 1

    trim = HeapTrim(fake_trim)
    loop_thread = asyncio.get_running_loop()
    threads: list[bool] = []
    original = trim.trim_now

    def noting() -> int:
        threads.append(_in_loop_thread(loop_thread))
        return original()

    trim.trim_now = noting  # type: ignore[method-assign]
    task = asyncio.create_task(trim.run(every=0.01))
    await until(lambda: len(calls) >= 3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls[:3] == [0, 0, 0] and trim.runs >= 3
    assert threads and not any(threads)


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def test_without_malloc_trim_nothing_runs() -> None:
    trim = HeapTrim(None)  # a C library without one (musl, macOS)
    assert not trim.available
    assert trim.trim_now() == 0
    await asyncio.wait_for(trim.run(every=0.01), timeout=5)  # returns at once, no loop
    assert trim.runs == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_metrics_show_the_python_heap_and_what_trimming_returned(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    async with running_app(settings, db, clock=clock) as api:
        metrics = (await api.anonymous().get("/metrics")).text
    blocks = re.search(r"^callcentre_python_heap_blocks (\S+)$", metrics, re.MULTILINE)
    assert blocks is not None
    assert 0.5 * sys.getallocatedblocks() < float(blocks.group(1)) < 2 * sys.getallocatedblocks()
    assert re.search(r"^callcentre_heap_returned_bytes_total \d", metrics, re.MULTILINE)
