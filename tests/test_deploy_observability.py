"""What an operator watches: the metrics the server exports (the transcription backlog, the
recordings' disk, each process), and the Grafana dashboard and Prometheus alert rules in
deploy/, whose every query names metrics and labels a live server's /metrics really has.
(promtool is not available: the expressions are checked by a small PromQL reader below.)"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.db import Database
from crm.recordings.models import CompressionStatus, RecordingCompression
from crm.settings import Settings, load_settings
from crm.transcripts.models import JobStatus, TranscriptionJob
from tests.support.api import running_app
from tests.support.live import live_system
from tests.support.redis import RedisServer

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "callcentre.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCRAPES = DEPLOY / "prometheus" / "prometheus.yml"

# Prometheus's own series for every target, and the labels it adds to every series.
PROMETHEUS_SERIES = {"up"}
TARGET_LABELS = {"job", "instance"}
FUNCTIONS = {
    "abs", "absent", "avg_over_time", "ceil", "changes", "clamp_max", "clamp_min", "delta",
    "deriv", "floor", "histogram_quantile", "increase", "irate", "label_replace",
    "max_over_time", "min_over_time", "predict_linear", "rate", "resets", "round", "scalar",
    "sort", "sort_desc", "sum_over_time", "time", "timestamp", "vector",
}  # fmt: skip
AGGREGATIONS = {"sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
                "quantile", "count_values", "group"}  # fmt: skip
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless"}  # fmt: skip


# --- a small PromQL reader: which series and labels does an expression name? ---------------


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def promql_names(expr: str) -> tuple[set[str], dict[str, set[str]], set[str], set[str]]:
    """(metric names, label names matched per metric, labels grouped by, functions called)."""
    text = _strip_strings(expr)
    matchers: dict[str, set[str]] = {}
    for name, body in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", text):
        matchers.setdefault(name, set()).update(re.findall(r"([a-zA-Z_]\w*)\s*[=!~]", body))
    grouped: set[str] = set()
    for body in re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text):
        grouped.update(label.strip() for label in body.split(",") if label.strip())
    bare = re.sub(r"\{[^}]*\}", " ", text)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # range and subquery durations
    metrics, functions = set(), set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", bare):
        word, called = match.group(1), match.group(2)
        if word in KEYWORDS:
            continue
        if called:
            functions.add(word)
        else:
            metrics.add(word)
    for name in matchers:
        metrics.add(name)
    return metrics, matchers, grouped, functions


def test_the_reader_finds_names_and_labels() -> None:
    expr = (
        'sum by (le) (rate(foo_bucket{le="1.0", kind!~"a|b"}[5m])) / on(instance) bar '
        "> 3 * 86400 and max(baz) offset 5m"
    )
    metrics, matchers, grouped, functions = promql_names(expr)
    assert metrics == {"foo_bucket", "bar", "baz"}
    assert matchers == {"foo_bucket": {"le", "kind"}}
    assert grouped == {"le", "instance"}
    assert functions == {"sum", "rate", "max"}


# --- the live /metrics ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, redis_server: RedisServer
) -> dict[str, set[str]]:
    """Every series a process running every role exports (bridge connected to the PBX
    simulator, Redis joining it to others), with the labels seen on it: family names and
    sample names alike."""
    import asyncio

    tmp = tmp_path_factory.mktemp("metrics")
    path = tmp / "callcentre.db"
    shutil.copyfile(sqlite_template, path)

    async def scrape() -> str:
        database = Database(f"sqlite+aiosqlite:///{path}")
        try:
            async with live_system(database, tmp, redis_url=redis_server.url) as system:
                # A message counted as the pops count theirs: the family gets its label.
                system.services.metrics.messages.labels("pop")
                async with httpx.AsyncClient(base_url=system.url) as client:
                    return (await client.get("/metrics")).text
        finally:
            await database.dispose()

    text = asyncio.run(scrape())
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        series.setdefault(family.name, set())
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
            series[family.name].update(sample.labels)
    return series


def _queries() -> list[tuple[str, str]]:
    """(where, expression) of every dashboard target and alert rule."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = [
        (f"dashboard panel {panel['title']!r}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    found += [
        (f"alert {rule['alert']}", rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]
    return found


@pytest.mark.parametrize(("where", "expr"), _queries(), ids=[w for w, _ in _queries()])
def test_every_query_names_exported_series_and_labels(
    exported: dict[str, set[str]], where: str, expr: str
) -> None:
    metrics, matchers, grouped, functions = promql_names(expr)
    assert metrics, f"{where}: names no metric"
    unknown = sorted(m for m in metrics if m not in exported and m not in PROMETHEUS_SERIES)
    assert unknown == [], f"{where}: not in /metrics: {unknown}"
    assert functions <= FUNCTIONS | AGGREGATIONS, f"{where}: {functions - FUNCTIONS - AGGREGATIONS}"
    for metric, labels in matchers.items():
        if metric in PROMETHEUS_SERIES:
            continue
        known = exported[metric] | TARGET_LABELS
        assert labels <= known, f"{where}: {metric} has no label {sorted(labels - known)}"
    seen = set().union(*(exported.get(m, set()) for m in metrics)) | TARGET_LABELS
    assert grouped <= seen, f"{where}: grouped by {sorted(grouped - seen)}, which none carries"


def test_the_alerts_cover_what_the_issue_names() -> None:
    """PBX disconnected, transcription backlog, pops late, disk nearly full — and each rule
    is complete: a unique name, a severity, a summary, a well-formed `for`."""
    rules = [r for g in yaml.safe_load(ALERTS.read_text("utf-8"))["groups"] for r in g["rules"]]
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smhd]", str(rule.get("for", "0s"))), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
    watched = {m for rule in rules for m in promql_names(rule["expr"])[0]}
    for series in (
        "callcentre_pbx_connected",
        "callcentre_transcription_oldest_queued_seconds",
        "callcentre_pop_latency_seconds_bucket",
        "callcentre_recordings_disk_free_bytes",
        "callcentre_database_ok",
        "callcentre_recording_compression_jobs",
    ):
        assert series in watched


def test_the_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        mine = {
            (x, y)
            for x in range(pos["x"], pos["x"] + pos["w"])
            for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        cells |= mine
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]


def test_prometheus_scrapes_the_ports_the_units_serve() -> None:
    scrapes = yaml.safe_load(SCRAPES.read_text(encoding="utf-8"))
    targets = {
        job["job_name"]: {t for c in job["static_configs"] for t in c["targets"]}
        for job in scrapes["scrape_configs"]
    }
    units = DEPLOY / "systemd"
    for role in ("bridge", "worker", "dialer"):
        text = (units / f"callcentre-{role}.service").read_text(encoding="utf-8")
        port = re.search(r"--health-port (\d+)", text)
        assert port and targets[f"callcentre-{role}"] == {f"127.0.0.1:{port[1]}"}
    nginx = (DEPLOY / "nginx" / "callcentre.conf").read_text(encoding="utf-8")
    upstream = set(re.findall(r"^\s*server (127\.0\.0\.1:\d+)", nginx, re.MULTILINE))
    assert targets["callcentre-web"] == upstream
    assert "alerts.yml" in SCRAPES.read_text(encoding="utf-8")


# --- the metrics added for the alerts ------------------------------------------------------


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


async def test_the_transcription_backlog_is_counted_at_each_scrape(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    now = clock.now()
    async with db.session() as session:
        for n, (status, queued_ago) in enumerate(
            [(JobStatus.QUEUED, 50), (JobStatus.QUEUED, 20), (JobStatus.RUNNING, 90),
             (JobStatus.FAILED, 300), (JobStatus.DONE, 900), (JobStatus.DONE, 901)]
        ):  # fmt: skip
            call = Call(
                linkedid=f"backlog.{n}",
                direction=Direction.INBOUND,
                started_at=now - timedelta(minutes=queued_ago + 5),
                ended_at=now - timedelta(minutes=queued_ago),
                outcome=CallOutcome.ANSWERED,
            )
            session.add(call)
            await session.flush()
            session.add(
                TranscriptionJob(
                    call_id=call.id, status=status, created_at=now - timedelta(minutes=queued_ago)
                )
            )
    async with running_app(settings, db, clock=clock) as api, api.anonymous() as client:
        text = (await client.get("/metrics")).text
    jobs = _samples(text, "callcentre_transcription_jobs")
    assert jobs == {
        (("status", "queued"),): 2,
        (("status", "running"),): 1,
        (("status", "failed"),): 1,
    }
    assert _samples(text, "callcentre_transcription_oldest_queued_seconds") == {(): 50 * 60}


async def test_an_empty_backlog_reads_zero(db: Database, settings: Settings) -> None:
    async with running_app(settings, db) as api, api.anonymous() as client:
        text = (await client.get("/metrics")).text
    assert set(_samples(text, "callcentre_transcription_jobs").values()) == {0}
    assert _samples(text, "callcentre_transcription_oldest_queued_seconds") == {(): 0}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_recordings_disk_is_the_directorys_filesystem(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    """Also before the directory exists: the filesystem that will hold it."""
    for directory in (tmp_path, tmp_path / "not" / "yet"):
        settings = load_settings(database_url=database_url, recordings_dir=directory)
        async with running_app(settings, db) as api, api.anonymous() as client:
            text = (await client.get("/metrics")).text
        usage = shutil.disk_usage(tmp_path)
        assert _samples(text, "callcentre_recordings_disk_size_bytes") == {(): usage.total}
        free = _samples(text, "callcentre_recordings_disk_free_bytes")[()]
        assert abs(free - usage.free) < 64 * 1024 * 1024  # other tests write meanwhile
        assert "process_resident_memory_bytes" in text


async def test_the_compression_backlog_is_counted_at_each_scrape(
    db: Database, settings: Settings, clock: FixedClock
) -> None:
    """Jobs not done yet are exported by status; the done ones (years of them) are not read."""
    now = clock.now()
    async with db.session() as session:
        statuses = [CompressionStatus.QUEUED] * 2 + [
            CompressionStatus.RUNNING,
            CompressionStatus.FAILED,
            CompressionStatus.DONE,
            CompressionStatus.DONE,
        ]
        for n, status in enumerate(statuses):
            call = Call(
                linkedid=f"compress.{n}",
                direction=Direction.INBOUND,
                started_at=now - timedelta(minutes=30),
                ended_at=now - timedelta(minutes=25),
                outcome=CallOutcome.ANSWERED,
            )
            session.add(call)
            await session.flush()
            session.add(RecordingCompression(call_id=call.id, status=status, not_before=now))
    async with running_app(settings, db, clock=clock) as api, api.anonymous() as client:
        text = (await client.get("/metrics")).text
    assert _samples(text, "callcentre_recording_compression_jobs") == {
        (("status", "queued"),): 2,
        (("status", "running"),): 1,
        (("status", "failed"),): 1,
    }
