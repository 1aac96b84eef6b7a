"""Prometheus metrics (`GET /metrics`): screen-pop latency, websocket clients, PBX events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from web.health import dependencies

router = APIRouter(tags=["metrics"])


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


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

        self.dependencies: dict[str, Gauge] = {}

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

    def watch(self, read: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_Probe(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)


@router.get("/metrics", include_in_schema=False, response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    figures = request.app.state.services.metrics
    for name, health in (await dependencies(request)).items():
        figures.dependency(name, bool(health["ok"]))
    return Response(figures.render(), media_type=CONTENT_TYPE_LATEST)
