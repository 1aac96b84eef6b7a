"""Prometheus metrics (`GET /metrics`): screen-pop latency, websocket clients, PBX events,
the dependencies, the transcription and compression backlogs, the recordings' disk, the
oldest recording, and the process's live Python heap beside what heap trimming gave back.
deploy/grafana/ and deploy/prometheus/ read these names (tests/test_deploy_observability.py
holds them to it)."""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from crm.recordings import service as recording_files
from crm.recordings.models import CompressionStatus
from crm.transcripts import service as transcripts
from crm.transcripts.service import Backlog
from web.health import PROBE_TIMEOUT, dependencies
from web.recordings_disk import RecordingsDisk
from web.runtime.heap_trim import HeapTrim

router = APIRouter(tags=["metrics"])
log = logging.getLogger(__name__)


class _Probe(Collector):
    """Reads live figures (from the bridge) only when Prometheus scrapes."""

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self._read()
        for name, value in figures.items():
            if isinstance(value, bool | int | float):
                yield GaugeMetricFamily(
                    f"callcentre_pbx_{name}", f"PBX bridge: {name}", value=float(value)
                )
            elif isinstance(value, dict):  # counts by kind, e.g. bad_frames
                family = GaugeMetricFamily(
                    f"callcentre_pbx_{name}", f"PBX bridge: {name} by kind", labels=["kind"]
                )
                for kind, count in value.items():
                    if isinstance(count, bool | int | float):
                        family.add_metric([str(kind)], float(count))
                yield family


class _Heap(Collector):
    """The live Python heap and what trimming gave back, read when Prometheus scrapes: a heap
    that grows is objects kept (a leak, or a cache filling), resident memory that grows over
    a flat heap is the allocator keeping freed memory."""

    def __init__(self, trim: HeapTrim) -> None:
        self._trim = trim

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "callcentre_python_heap_blocks",
            "Memory blocks held by live Python objects in this process (sys.getallocatedblocks)",
            value=float(sys.getallocatedblocks()),
        )
        yield CounterMetricFamily(
            "callcentre_heap_returned_bytes",
            "Resident memory given back to the system by trimming the C heap (malloc_trim)",
            value=float(self._trim.returned_bytes),
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_resident_memory_bytes, process_cpu_seconds_total …: each process's own.
        ProcessCollector(registry=self.registry)
        self.pop_latency = Histogram(
            "callcentre_pop_latency_seconds",
            "From the PBX event reaching the server to the websocket frame leaving it",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.messages = Counter(
            "callcentre_ws_messages_total",
            "Messages sent to browsers",
            ["type"],
            registry=self.registry,
        )
        self.clients = Gauge(
            "callcentre_ws_clients", "Connected browser websockets", registry=self.registry
        )
        self.resume_messages = Gauge(
            "callcentre_ws_resume_messages",
            "Messages kept for pages that reconnect, all users together, at this scrape "
            "(bounded by CALLCENTRE_RESUME_SECONDS)",
            registry=self.registry,
        )

        self.bus_waiting = Gauge(
            "callcentre_bus_waiting_events",
            "Events handed to a subscriber in this process and not handled yet, at this scrape "
            "(a subscriber falling behind: wrap-ups, agent states, attempt outcomes …)",
            ["subscription"],
            registry=self.registry,
        )
        self.dependencies: dict[str, Gauge] = {}
        self.transcription_jobs = Gauge(
            "callcentre_transcription_jobs",
            "Transcription jobs not done, by status (queued, running, failed), at this scrape",
            ["status"],
            registry=self.registry,
        )
        self.transcription_oldest_queued = Gauge(
            "callcentre_transcription_oldest_queued_seconds",
            "Age of the oldest queued transcription job (0: none queued), at this scrape",
            registry=self.registry,
        )
        self.compression_jobs = Gauge(
            "callcentre_recording_compression_jobs",
            "Recording compression jobs not done, by status (queued, running, failed), at "
            "this scrape",
            ["status"],
            registry=self.registry,
        )
        self.recordings_disk_free = Gauge(
            "callcentre_recordings_disk_free_bytes",
            "Space free for the server on the filesystem of CALLCENTRE_RECORDINGS_DIR",
            registry=self.registry,
        )
        self.recordings_disk_size = Gauge(
            "callcentre_recordings_disk_size_bytes",
            "Size of the filesystem of CALLCENTRE_RECORDINGS_DIR",
            registry=self.registry,
        )
        self.oldest_recording = Gauge(
            "callcentre_recordings_oldest_timestamp_seconds",
            "Start (Unix time) of the oldest call whose recording is still held; 0: none",
            registry=self.registry,
        )

    def dependency(self, name: str, ok: bool) -> None:
        """Whether a dependency answered the last probe: `callcentre_database_ok`,
        `callcentre_redis_connected` (only in processes that use Redis)."""
        gauge = self.dependencies.get(name)
        if gauge is None:
            metric = {"database": "callcentre_database_ok", "redis": "callcentre_redis_connected"}
            gauge = self.dependencies[name] = Gauge(
                metric.get(name, f"callcentre_{name}_ok"),
                f"1 when {name} answered the last probe (at this scrape), else 0",
                registry=self.registry,
            )
        gauge.set(1 if ok else 0)

    def transcription(self, backlog: Backlog, now: datetime) -> None:
        for status, count in backlog.jobs.items():
            self.transcription_jobs.labels(status.value).set(count)
        oldest = backlog.oldest_queued_at
        self.transcription_oldest_queued.set(
            max(0.0, (now - oldest).total_seconds()) if oldest else 0
        )

    def compression(self, backlog: Mapping[CompressionStatus, int]) -> None:
        for status, count in backlog.items():
            self.compression_jobs.labels(status.value).set(count)

    def recordings(self, disk: RecordingsDisk) -> None:
        """The recordings' disk as last measured (NaN when it could not be; see
        web/recordings_disk.py) and the oldest recording still held."""
        self.recordings_disk_free.set(math.nan if disk.free_bytes is None else disk.free_bytes)
        self.recordings_disk_size.set(math.nan if disk.total_bytes is None else disk.total_bytes)
        oldest = disk.oldest_recording_at
        self.oldest_recording.set(0 if oldest is None else oldest.timestamp())

    def watch(self, read: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_Probe(read))

    def watch_heap(self, trim: HeapTrim) -> None:
        self.registry.register(_Heap(trim))

    def render(self) -> bytes:
        return generate_latest(self.registry)


@router.get("/metrics", include_in_schema=False, response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    svc = request.app.state.services
    figures = svc.metrics
    probed = await dependencies(request)
    for name, health in probed.items():
        figures.dependency(name, bool(health["ok"]))
    if probed["database"]["ok"]:  # else the backlog keeps its last figures
        try:
            async with asyncio.timeout(PROBE_TIMEOUT), svc.database.session() as session:
                figures.transcription(await transcripts.backlog(session), svc.clock.now())
                figures.compression(await recording_files.compression_backlog(session))
        except Exception as exc:  # gone since the probe: /metrics still answers, it says so
            log.warning("transcription backlog not read: %s: %s", type(exc).__name__, exc)
    figures.recordings(await svc.recordings_disk.figures())
    figures.resume_messages.set(svc.outbox.held())
    buses = [svc.bus] + ([svc.bridge.bus] if svc.bridge and svc.bridge.bus is not svc.bus else [])
    for bus in buses:
        for name, count in bus.waiting().items():
            figures.bus_waiting.labels(name).set(count)
    return Response(figures.render(), media_type=CONTENT_TYPE_LATEST)
