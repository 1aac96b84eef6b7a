"""The recordings' disk: its free and total space, and when the oldest recording still held
was made — for /healthz, /metrics and the wallboard, so the disk is seen filling before it
is full. Space is read with shutil.disk_usage (one statvfs), the oldest recording from the
database (the calls' recording columns, never a walk of a directory of millions of files);
both are kept a few seconds on the injected clock, so a health probe, a scrape and each
wallboard refresh do not repeat them."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from crm.calls import service as calls
from crm.clock import Clock
from crm.db import Database

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0  # disk figures: cheap, but asked for by every probe and refresh
OLDEST_CACHE_SECONDS = 60.0  # the oldest recording moves once an hour (retention)
QUERY_TIMEOUT = 2.0


class RecordingsDisk(BaseModel):
    """The recordings directory's disk (CALLCENTRE_RECORDINGS_DIR)."""

    ok: bool  # free space at or above the warning level (CALLCENTRE_DISK_WARN_PERCENT)
    total_bytes: int | None  # None: the disk could not be measured (see error)
    free_bytes: int | None  # what this server's user may still write
    free_percent: float | None
    warn_percent: float
    oldest_recording_at: datetime | None  # the oldest call whose recording is still held
    error: str | None = None


def measured_path(directory: Path) -> Path:
    """The directory, or (not created yet) its nearest existing parent: the same disk."""
    path = directory.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


class RecordingsDiskWatch:
    def __init__(
        self, *, directory: Path, warn_percent: float, clock: Clock, database: Database
    ) -> None:
        self.directory = directory
        self.warn_percent = warn_percent
        self.clock = clock
        self.database = database
        self._disk: tuple[datetime, int | None, int | None, str | None] | None = None
        self._oldest: tuple[datetime, datetime | None] | None = None

    async def figures(self) -> RecordingsDisk:
        now = self.clock.now()
        total, free, error = self._usage(now)
        oldest = await self._oldest_recording(now)
        percent = round(100.0 * free / total, 2) if total and free is not None else None
        ok = error is None and (percent is None or percent >= self.warn_percent)
        return RecordingsDisk(
            ok=ok,
            total_bytes=total,
            free_bytes=free,
            free_percent=percent,
            warn_percent=self.warn_percent,
            oldest_recording_at=oldest,
            error=error,
        )

    def _usage(self, now: datetime) -> tuple[int | None, int | None, str | None]:
        if self._disk is not None and now - self._disk[0] < timedelta(seconds=CACHE_SECONDS):
            return self._disk[1:]
        try:
            usage = shutil.disk_usage(measured_path(self.directory))
            figures: tuple[int | None, int | None, str | None] = (usage.total, usage.free, None)
        except OSError as exc:
            figures = (None, None, f"{type(exc).__name__}: {exc.strerror or exc}"[:300])
        self._disk = (now, *figures)
        return figures

    async def _oldest_recording(self, now: datetime) -> datetime | None:
        cached = self._oldest
        if cached is not None and now - cached[0] < timedelta(seconds=OLDEST_CACHE_SECONDS):
            return cached[1]
        try:
            async with asyncio.timeout(QUERY_TIMEOUT), self.database.session() as session:
                oldest = await calls.oldest_recording_started_at(session)
        except Exception as exc:  # the database away: /healthz says so on its own
            log.warning("the oldest recording could not be read: %s", exc)
            return cached[1] if cached is not None else None
        self._oldest = (now, oldest)
        return oldest
