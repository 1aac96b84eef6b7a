"""Freed memory back to the system, once a minute.

CPython hands every object over 512 bytes (AMI frames, event payloads, result rows, websocket
frames) to the C allocator. glibc keeps what is freed in its arenas for later and gives the
system back only the free top of each heap, so after a peak of calls a long-running process
keeps its high-water mark: on the busy day the bridge's and the dialer's resident memory rose
after every peak while their live Python blocks stayed flat, which reads as a leak on a
dashboard. `malloc_trim(0)` releases the free pages of every arena (0.1–7 ms on the busy day);
it runs in a thread, so the event loop is never held by it. Without glibc (musl, macOS) there
is nothing to call and nothing runs.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable

log = logging.getLogger(__name__)

TRIM_SECONDS = 60.0


def glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def resident_bytes() -> int:
    """This process's resident memory, from /proc (0 where there is none)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class HeapTrim:
    """Gives free heap pages back; counts what the process's resident memory lost by it."""

    def __init__(self, trim: Callable[[int], int] | None) -> None:
        """`trim`: `glibc_malloc_trim()` in a server; None where there is none."""
        self._trim = trim
        self.returned_bytes = 0
        self.runs = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def trim_now(self) -> int:
        """Trim once (blocking: call it from a thread); the bytes resident memory lost."""
        if self._trim is None:
            return 0
        before = resident_bytes()
        self._trim(0)
        returned = max(0, before - resident_bytes())
        self.returned_bytes += returned
        self.runs += 1
        return returned

    async def run(self, *, every: float = TRIM_SECONDS) -> None:
        """Trim every `every` seconds until cancelled."""
        if not self.available:
            log.info("no malloc_trim in this C library: freed heap memory stays with the process")
            return
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self.trim_now)
