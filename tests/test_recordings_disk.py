"""The recordings' disk in /healthz, /metrics and the wallboard (issue 20): free and total
space from shutil.disk_usage, cached on the injected clock; the oldest recording still held
from the database (not the directory); below CALLCENTRE_DISK_WARN_PERCENT the health is
degraded, `failing` names the disk and the wallboard's snapshot says so."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest

from crm.calls import service as calls
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings
from tests.support.api import running_app
from web import recordings_disk
from web.recordings_disk import RecordingsDiskWatch, measured_path

GB = 10**9


class Usage(NamedTuple):
    total: int
    used: int
    free: int


class FakeDisk:
    """shutil.disk_usage as the test sets it, counting the reads."""

    def __init__(self) -> None:
        self.usage = Usage(total=1000 * GB, used=500 * GB, free=500 * GB)
        self.reads: list[Path] = []
        self.error: OSError | None = None

    def __call__(self, path: str | Path) -> Usage:
        self.reads.append(Path(path))
        if self.error is not None:
            raise self.error
        return self.usage

    def filled(self, free: int) -> None:
        self.usage = Usage(total=self.usage.total, used=self.usage.total - free, free=free)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDisk]:
    fake = FakeDisk()
    monkeypatch.setattr(recordings_disk.shutil, "disk_usage", fake)
    yield fake


async def _call(db: Database, started: datetime, *, recording: str | None, n: int) -> None:
    async with db.session() as session:
        session.add(
            Call(
                linkedid=f"disk.{n}",
                direction=Direction.INBOUND,
                started_at=started,
                ended_at=started + timedelta(minutes=2),
                outcome=CallOutcome.ANSWERED,
                customer_number="13800138000",
                recording=recording,
                recording_agent=None if recording is None else recording + "-in",
            )
        )


async def test_the_oldest_recording_is_the_oldest_call_still_holding_one(
    db: Database, clock: FixedClock
) -> None:
    now = clock.now()
    async with db.session() as session:
        assert await calls.oldest_recording_started_at(session) is None
    await _call(db, now - timedelta(days=400), recording=None, n=1)  # audio removed
    await _call(db, now - timedelta(days=90), recording="/r/b.wav", n=2)
    await _call(db, now - timedelta(days=3), recording="/r/c.wav", n=3)
    async with db.session() as session:
        oldest = await calls.oldest_recording_started_at(session)
    assert oldest == now - timedelta(days=90)
    assert oldest is not None and oldest.tzinfo is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_figures_warn_below_the_level_and_are_cached_on_the_clock(
    db: Database, clock: FixedClock, disk: FakeDisk, tmp_path: Path
) -> None:
    watch = RecordingsDiskWatch(
        directory=tmp_path / "recordings", warn_percent=10, clock=clock, database=db
    )
    first = await watch.figures()
    assert first.ok and first.total_bytes == 1000 * GB and first.free_bytes == 500 * GB
    assert first.free_percent == 50.0 and first.warn_percent == 10
    assert first.oldest_recording_at is None and first.error is None
    assert disk.reads == [tmp_path]  # not created yet: its parent, on the same disk

    disk.filled(99 * GB)
    await _call(db, clock.now() - timedelta(days=2), recording="/r/a.wav", n=1)
    assert (await watch.figures()) == first  # within the cache: not read again
    assert len(disk.reads) == 1
    clock.advance(seconds=recordings_disk.CACHE_SECONDS)
    low = await watch.figures()
    assert not low.ok and low.free_percent == 9.9 and low.free_bytes == 99 * GB
    assert low.oldest_recording_at is None  # the database is asked once a minute
    clock.advance(seconds=recordings_disk.OLDEST_CACHE_SECONDS)
    assert (await watch.figures()).oldest_recording_at == clock.now() - timedelta(
        days=2, seconds=recordings_disk.CACHE_SECONDS + recordings_disk.OLDEST_CACHE_SECONDS
    )
    disk.filled(100 * GB)  # exactly at the level: not yet a warning
    clock.advance(seconds=recordings_disk.CACHE_SECONDS)
    assert (await watch.figures()).ok

    disk.error = PermissionError(13, "Permission denied")
    clock.advance(seconds=recordings_disk.CACHE_SECONDS)
    unreadable = await watch.figures()
    assert not unreadable.ok and unreadable.free_bytes is None
    assert unreadable.error == "PermissionError: Permission denied"


def test_the_measured_path_is_the_nearest_existing_directory(tmp_path: Path) -> None:
    assert measured_path(tmp_path / "a" / "b") == tmp_path
    (tmp_path / "a").mkdir()
    assert measured_path(tmp_path / "a") == tmp_path / "a"
    assert shutil.disk_usage(measured_path(Path("relative/not/there"))).total > 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_health_metrics_and_wallboard_show_the_disk(
    db: Database, settings: Settings, clock: FixedClock, disk: FakeDisk, tmp_path: Path
) -> None:
    settings = settings.model_copy(
        update={"recordings_dir": tmp_path / "recordings", "disk_warn_percent": 12.5}
    )
    started = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    await _call(db, started, recording="/r/old.wav", n=1)
    async with running_app(settings, db, clock=clock) as api:
        health = (await api.anonymous().get("/healthz")).json()
        assert health["status"] == "ok" and health["failing"] == []
        assert health["recordings_disk"] == {
            "ok": True,
            "total_bytes": 1000 * GB,
            "free_bytes": 500 * GB,
            "free_percent": 50.0,
            "warn_percent": 12.5,
            "oldest_recording_at": "2026-05-01T08:00:00Z",
            "error": None,
        }
        metrics = (await api.anonymous().get("/metrics")).text
        assert "callcentre_recordings_disk_free_bytes 5e+11" in metrics
        assert "callcentre_recordings_disk_size_bytes 1e+12" in metrics
        assert "callcentre_recordings_oldest_timestamp_seconds 1.7776224e+09" in metrics
        assert started.timestamp() == 1.7776224e09
        board = (await api["supervisor"].get("/api/wallboard")).json()
        assert board["recordings_disk"]["ok"] is True

        disk.filled(120 * GB)
        clock.advance(seconds=recordings_disk.CACHE_SECONDS)
        response = await api.anonymous().get("/healthz")
        assert response.status_code == 200  # degraded, not out of the load balancer
        health = response.json()
        assert health["status"] == "degraded" and health["failing"] == ["recordings_disk"]
        assert health["recordings_disk"]["ok"] is False
        assert health["recordings_disk"]["free_percent"] == 12.0
        metrics = (await api.anonymous().get("/metrics")).text
        assert "callcentre_recordings_disk_free_bytes 1.2e+11" in metrics
        board = (await api["supervisor"].get("/api/wallboard")).json()
        assert board["recordings_disk"]["ok"] is False
        assert board["recordings_disk"]["free_bytes"] == 120 * GB
