"""A busy day, start to finish: the production topology through one compressed simulated day.

PostgreSQL, Redis and `callcentre serve --role …` processes as a deployment runs them (one
bridge, two web processes, two transcription workers, one dialer; tests/support/cluster.py
starts them), against the PBX simulator in its own process (`bench.busy_day_pbx`) whose
clock runs `1 / time_scale` times faster than real: 200 agents with their websockets open
all day, 6,000 inbound calls shaped like a day's traffic (08:00–20:00 simulated), and a
campaign over 3,000 projects' callbacks, dialed agent-first by the dialer and completed by
the agent's form, as an agent's console does. Every answered call is recorded (short
conversations: a few simulated seconds each), and its transcription job is queued for the
workers, which run at `nice 10` as a machine shared with the web processes would run them.

It prints what a day must not lose: pops lost or late (after the phone stopped ringing),
calls lost (placed, never stored) or duplicated, transcription jobs lost (an answered,
recorded call without one) or duplicated (a leg transcribed twice), dials lost (a task the
campaign never dialed) or duplicated (an attempt dialed twice, a task dialed twice); how
things move through the day: pop p50/p99 in each simulated hour (drift), the transcription
backlog at each hour; and what a process must not grow: resident memory of each process at
the start (after the first hour, the warm-up), the middle and the end of the day (goal:
growth < 5%), its open file descriptors and its PostgreSQL connections, and
pg_stat_activity's count. After the day the workers keep going for what is left of the
budget; the backlog they leave is printed as it is.

`python -m bench.busy_day [--quick] [--day-seconds S]`; `python -m bench busy_day`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import func, select, text
from websockets.typing import Origin

from bench.busy_day_pbx import FIRST_HOUR, HOURS
from bench.common import finish, latency_summary, read_line, say, scratch_dir, spawn, tell
from bench.data import PROJECT_COLUMNS, TASK_COLUMNS, bulk_insert, load_customers
from crm.callbacks.models import CallbackAttempt, CallbackTask
from crm.calls.models import Call, CallOutcome
from crm.campaigns import service as campaigns
from crm.clock import SystemClock, local_today
from crm.db import Database
from crm.quality.models import CallScore
from crm.settings import load_settings
from crm.transcripts.models import JobStatus, Transcript, TranscriptionJob
from crm.users import service as users
from crm.users import sessions
from crm.users.models import Role, SessionKind, User
from web.auth import COOKIE

NAME = "busy_day"
GOAL_GROWTH = 0.05  # resident memory, end of day against start (after warm-up)
GOAL_P99_MS = 50.0  # the screen-pop benchmark's goal, in every hour
BUDGET_SECONDS = 14 * 60  # the whole run, start-up included, under 15 minutes
FIRST_EXTENSION = 2000
AMI_SECRET = "bench-secret"


@dataclass(frozen=True)
class Size:
    agents: int
    callback_agents: int  # the campaign's team; the others take the inbound calls
    calls: int
    projects: int
    customers: int
    day_seconds: float
    answer_after: float  # real seconds a phone rings
    drain_seconds: float  # at most this long for the workers after the day
    finish_seconds: float  # for the campaign's last calls after the day; to stop a process

    @property
    def inbound_agents(self) -> int:
        return self.agents - self.callback_agents


FULL = Size(
    agents=200,
    callback_agents=50,
    calls=6000,
    projects=3000,
    customers=10_000,
    day_seconds=480.0,
    answer_after=3.0,
    drain_seconds=120.0,
    finish_seconds=30.0,
)
QUICK = Size(
    agents=12,
    callback_agents=4,
    calls=48,
    projects=24,
    customers=200,
    day_seconds=12.0,
    answer_after=1.0,
    drain_seconds=0.0,
    finish_seconds=5.0,
)


# -- the data -----------------------------------------------------------------------------


@dataclass
class AgentLogin:
    user_id: int
    extension: str
    token: str
    csrf: str
    callbacks: bool  # on the campaign's team


async def _agents(database: Database, size: Size) -> list[AgentLogin]:
    """The agents with browser sessions (one password hash: logins are not measured)."""
    password_hash = users.hash_password("bench-pass-1")
    now = datetime.now(UTC)
    out = []
    async with database.session() as session:
        agents = [
            User(
                username=f"agent{FIRST_EXTENSION + i}",
                password_hash=password_hash,
                display_name=f"坐席{FIRST_EXTENSION + i}",
                role=Role.AGENT,
                extension=str(FIRST_EXTENSION + i),
            )
            for i in range(size.agents)
        ]
        session.add_all(agents)
        await session.flush()
        for index, agent in enumerate(agents):
            token, row = await sessions.create(
                session, user=agent, kind=SessionKind.BROWSER, at=now, lifetime=timedelta(hours=8)
            )
            assert agent.extension is not None
            out.append(
                AgentLogin(
                    agent.id,
                    agent.extension,
                    token,
                    row.csrf_token,
                    callbacks=index >= size.inbound_agents,
                )
            )
    return out


def callable_customers(size: Size) -> list[int]:
    """Customer ids the campaign may call: bench.data marks every 50th do-not-call."""
    return [i + 1 for i in range(size.customers) if i % 50 != 0][: size.projects]


async def _projects(database: Database, size: Size, today: date) -> list[int]:
    """One project in progress per callable customer, its midterm callback due today."""
    now = datetime.now(UTC)
    owners = callable_customers(size)
    projects = [
        {
            "id": n + 1,
            "customer_id": customer,
            "contract_number": f"HT{n + 1:08d}",
            "address": "",
            "designer": "",
            "project_manager": "",
            "foreman": "",
            "crew": "",
            "contract_date": today - timedelta(days=50),
            "start_date": today - timedelta(days=40),
            "concealed_works_date": today - timedelta(days=20),
            "midterm_date": today,
            "completion_date": None,
            "status": "in_progress",
            "created_at": now,
            "updated_at": now,
        }
        for n, customer in enumerate(owners)
    ]
    tasks: list[dict[str, Any]] = [
        {
            "id": n + 1,
            "project_id": n + 1,
            "stage": "midterm",
            "month": 0,
            "due_date": today,
            "latest_date": today + timedelta(days=3),
            "priority": 1 + n % 3,
            "status": "pending",
            "attempt_count": 0,
            "not_before": None,
            "effective": False,
            "effective_at": None,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(len(owners))
    ]
    await bulk_insert(database, "projects", PROJECT_COLUMNS, projects)
    await bulk_insert(database, "callback_tasks", TASK_COLUMNS, tasks)
    return [n + 1 for n in range(len(tasks))]


async def _campaign(database: Database, team: list[int], size: Size) -> int:
    async with database.session() as session:
        supervisor = await users.create(
            session,
            username="supervisor",
            password="bench-pass-1",
            display_name="组长",
            role=Role.SUPERVISOR,
        )
        created = await campaigns.create(
            session,
            owner_id=supervisor.id,
            name="中期回访",
            stages=["midterm"],
            agent_ids=team,
            max_concurrent=size.callback_agents,
        )
        return created.id


async def _start_campaign(database: Database, campaign_id: int) -> None:
    async with database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        await campaigns.transition(session, campaign, "start", at=SystemClock().now())


# -- the agents ---------------------------------------------------------------------------


class AgentConsole:
    """One agent's browser: its websocket open all day, the pops it received (by linkedid,
    on `time.perf_counter()`), and, for a callback, the form it sends once the call ends."""

    def __init__(self, login: AgentLogin, base: str) -> None:
        self.login, self.base = login, base
        self.pops: dict[str, float] = {}
        self.callback_pops: dict[int, int] = {}  # attempt → task
        self.forms_sent = 0
        self.forms: set[int] = set()  # attempts whose form was sent
        self.form_errors: list[str] = []
        self.disconnects = 0
        self.socket: Any = None
        self.http = httpx.AsyncClient(
            base_url=base,
            timeout=30,
            cookies={COOKIE: login.token},
            headers={"X-CSRF-Token": login.csrf},
        )

    async def connect(self) -> None:
        self.socket = await websockets.connect(
            self.base.replace("http://", "ws://") + "/ws",
            additional_headers={"Cookie": f"{COOKIE}={self.login.token}"},
            origin=Origin(self.base),
            max_size=None,
        )
        hello = json.loads(await self.socket.recv())
        assert hello["type"] == "hello", hello

    async def ready(self) -> None:
        response = await self.http.put("/api/agent/state", json={"status": "ready"})
        response.raise_for_status()

    async def read(self, forms: set[asyncio.Task[None]]) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "pop":
                    call = message["call"]
                    self.pops.setdefault(call["linkedid"], time.perf_counter())
                    if call.get("attempt_id") is not None and message.get("task_id") is not None:
                        self.callback_pops[call["attempt_id"]] = message["task_id"]
                elif (
                    kind == "ended"
                    and message.get("attempt_id") is not None
                    and message.get("outcome") == CallOutcome.ANSWERED.value
                    and message.get("answered_by") == self.login.extension
                    and message["attempt_id"] not in self.forms
                ):
                    self.forms.add(message["attempt_id"])  # one form per call, as a console
                    task = asyncio.create_task(self._form(message))
                    forms.add(task)
                    task.add_done_callback(forms.discard)
        except websockets.ConnectionClosed:
            pass
        self.disconnects += 1

    async def _form(self, ended: dict[str, Any]) -> None:
        """The callback's form: reached, satisfied."""
        attempt = ended["attempt_id"]
        task = self.callback_pops.get(attempt)
        if task is None:  # no pop for it: the agent would not know the task
            self.form_errors.append(f"attempt {attempt}: no pop")
            return
        response = await self.http.post(
            f"/api/callbacks/{task}/attempts",
            json={
                "outcome": "effective",
                "attempt_id": attempt,
                "linkedid": ended["linkedid"],
                "satisfaction": {"quality": "satisfied", "crew": "satisfied"},
            },
        )
        if response.status_code == 201:
            self.forms_sent += 1
        else:
            self.form_errors.append(f"attempt {attempt}: {response.status_code} {response.text}")

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        await self.http.aclose()


# -- the processes' resources --------------------------------------------------------------


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _group(pgid: int) -> list[int]:
    """Every process in the process group (a worker's transcriber children)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids.append(int(entry))
    return pids


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _connected_to(port: int) -> set[str]:
    """Socket inodes of TCP connections to 127.0.0.1:`port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[2].rsplit(":", 1)[1], 16) == port and parts[3] == "01":  # ESTABLISHED
                inodes.add(parts[9])
    return inodes


def sample_processes(pids: dict[str, int], pg_port: int) -> dict[str, dict[str, int]]:
    """Per process: resident memory (kB) of the process and of its children, open file
    descriptors, connections to PostgreSQL."""
    to_pg = _connected_to(pg_port)
    out = {}
    for name, pid in pids.items():
        children = [p for p in _group(pid) if p != pid]
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            fds = -1
        out[name] = {
            "rss_kb": _status_kb(pid, "VmRSS"),
            "children_rss_kb": sum(_status_kb(p, "VmRSS") for p in children),
            "fds": fds,
            "pg_connections": len(_socket_inodes(pid) & to_pg),
        }
    return out


async def add_heaps(sample: dict[str, dict[str, int]], urls: dict[str, str]) -> None:
    """Each process's live Python heap (`callcentre_python_heap_blocks`) and what heap
    trimming has given back (`callcentre_heap_returned_bytes_total`), from its /metrics:
    resident memory that grows over a flat heap is the allocator's, not objects kept."""
    async with httpx.AsyncClient(timeout=10) as client:
        for name, url in urls.items():
            try:
                text = (await client.get(f"{url}/metrics")).text
            except httpx.HTTPError:
                continue
            for key, metric in (
                ("heap_blocks", "callcentre_python_heap_blocks"),
                ("returned_bytes", "callcentre_heap_returned_bytes_total"),
            ):
                found = re.search(rf"^{metric} (\S+)$", text, re.MULTILINE)
                if found and name in sample:
                    sample[name][key] = int(float(found.group(1)))


# -- the run ------------------------------------------------------------------------------


def _spawn_pbx(size: Size, recordings: Path) -> subprocess.Popen[str]:
    return spawn(
        "bench.busy_day_pbx",
        "--inbound-agents",
        str(size.inbound_agents),
        "--first-extension",
        str(FIRST_EXTENSION),
        "--calls",
        str(size.calls),
        "--day-seconds",
        str(size.day_seconds),
        "--customers",
        str(size.customers),
        "--answer-after",
        str(size.answer_after),
        "--secret",
        AMI_SECRET,
        "--recordings",
        str(recordings),
    )


@dataclass
class Day:
    """What the bench saw while the day ran."""

    hours: list[dict[str, Any]] = field(default_factory=list)
    memory: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    pg_activity: dict[str, int] = field(default_factory=dict)
    recordings_cut: dict[str, Any] = field(default_factory=dict)


async def _backlog(database: Database) -> dict[str, int]:
    async with database.session() as session:
        rows = await session.execute(
            select(TranscriptionJob.status, func.count()).group_by(TranscriptionJob.status)
        )
        counts = {status.value: 0 for status in JobStatus}
        counts.update({status.value: n for status, n in rows.all()})
        return counts


async def _pg_activity(database: Database, name: str) -> int:
    async with database.session() as session:
        found = await session.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        )
        return int(found or 0)


async def _run(size: Size, directory: Path) -> dict[str, Any]:
    from migrations import upgrade
    from tests.support.cluster import Cluster, cluster_env
    from tests.support.postgres import start_server as start_postgres
    from tests.support.redis import start_server as start_redis

    started = time.perf_counter()
    recordings = directory / "recordings"
    pbx = _spawn_pbx(size, recordings)  # its voices are synthesised while the rest starts
    postgres = start_postgres()
    redis = start_redis()
    cluster: Cluster | None = None
    consoles: list[AgentConsole] = []
    try:
        db_name = "busy_day"
        postgres.psql(f"CREATE DATABASE {db_name}")
        url = postgres.url(db_name)
        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        today = local_today(SystemClock(), load_settings().tz)
        await load_customers(database, size.customers)
        logins = await _agents(database, size)
        task_ids = await _projects(database, size, today)
        team = [a.user_id for a in logins if a.callbacks]
        campaign_id = await _campaign(database, team, size)
        hello = await read_line(pbx)
        env = cluster_env(
            database_url=url,
            redis_url=redis.url,
            ami_port=hello["port"],
            ami_secret=AMI_SECRET,
            recordings=recordings,
            folder=directory,
        )
        # The campaign spread over most of the day, as a supervisor paces one.
        rate = max(1.0, 1.25 * len(task_ids) / size.day_seconds)
        env.update(
            {
                "CALLCENTRE_DIALER_CALLS_PER_SECOND": f"{rate:.2f}",
                "CALLCENTRE_TRANSCRIPTION_LEASE_SECONDS": "60",
                "CALLCENTRE_LOG_LEVEL": "WARNING",
                # A reconnecting page gets the last ten *simulated* minutes, as in production:
                # ten real minutes would hold the whole compressed day's messages.
                "CALLCENTRE_RESUME_SECONDS": f"{max(1.0, 600 * hello['time_scale']):.1f}",
            }
        )
        cluster = Cluster(directory, env)
        # Every process serves /metrics (the web ones on their port, the others on a health
        # port), for its live Python heap beside its resident memory.
        cluster.start("bridge", "bridge", health=True)
        webs = [cluster.start(name, "web", http=True) for name in ("web-a", "web-b")]
        workers = [cluster.start(name, "worker", health=True) for name in ("worker-a", "worker-b")]
        for worker in workers:  # transcription yields the CPU to the calls, as a unit's Nice= does
            os.setpriority(os.PRIO_PGRP, worker.pid, 10)
        dialer = cluster.start("dialer", "dialer", health=True)
        for web in webs:
            await cluster.wait_healthy(web, timeout=120)
        for worker in workers:
            await cluster.wait_log(worker, "takes jobs from Redis", timeout=120)
        await cluster.wait_log(dialer, "dialer active", timeout=120)
        consoles = [AgentConsole(login, webs[n % len(webs)].url) for n, login in enumerate(logins)]
        for start in range(0, len(consoles), 50):
            await asyncio.gather(*(c.connect() for c in consoles[start : start + 50]))
        forms: set[asyncio.Task[None]] = set()
        readers = [asyncio.create_task(c.read(forms)) for c in consoles]
        for start in range(0, len(consoles), 50):
            await asyncio.gather(*(c.ready() for c in consoles[start : start + 50]))
        pids = {name: node.pid for name, node in cluster.nodes.items()}
        urls = {name: node.url for name, node in cluster.nodes.items()}
        setup_seconds = time.perf_counter() - started
        say(
            f"  set up in {setup_seconds:.0f} s: {size.agents} agents connected "
            f"({size.inbound_agents} inbound, {size.callback_agents} on the campaign), "
            f"{size.customers:,} customers, {len(task_ids):,} callbacks due; a simulated day "
            f"(08:00–20:00) in {size.day_seconds:g} s, {hello['time_scale'] * 3600:.1f} s an hour"
        )
        day = Day()
        await _start_campaign(database, campaign_id)
        tell(pbx, "go")
        begin = time.perf_counter()
        hour_seconds = size.day_seconds / HOURS
        samples = {FIRST_HOUR + 1: "start", FIRST_HOUR + HOURS // 2: "middle"}
        for hour in range(FIRST_HOUR + 1, FIRST_HOUR + HOURS + 1):
            await asyncio.sleep(
                max(0.0, begin + (hour - FIRST_HOUR) * hour_seconds - time.perf_counter())
            )
            backlog = await _backlog(database)
            day.hours.append({"hour": f"{hour:02d}:00", **backlog})
            if hour in samples:
                day.memory[samples[hour]] = sample_processes(pids, postgres.port)
                await add_heaps(day.memory[samples[hour]], urls)
                day.pg_activity[samples[hour]] = await _pg_activity(database, db_name)
        placed = await read_line(pbx)
        assert "placed" in placed, placed
        # The day is over: the campaign's last calls end, the agents' forms are sent.
        dialed_by = time.perf_counter() + size.finish_seconds
        while time.perf_counter() < dialed_by and await _open_tasks(database, task_ids):
            await asyncio.sleep(0.5)
        await _pause_campaign(database, campaign_id)
        # An attempt claimed just before the pause is still dialed: the PBX reports what it
        # received once those calls are over, or it would miss a dial the day did make.
        await _attempts_closed(database, within=size.finish_seconds)
        tell(pbx, "report")
        calls, dialed = [], []

        async def report() -> None:
            while "done" not in (line := await read_line(pbx)):
                if "dialed_attempts" in line:
                    dialed.extend(line["dialed_attempts"])
                elif "recordings_cut" in line:
                    day.recordings_cut = line
                else:
                    calls.append(line)

        await asyncio.wait_for(report(), timeout=180)  # its calls ended, its files written
        settle = time.perf_counter() + 10
        while time.perf_counter() < settle and (
            forms
            or any(c["linkedid"] not in _console(consoles, c["extension"]).pops for c in calls)
        ):
            await asyncio.sleep(0.1)
        day.memory["end"] = sample_processes(pids, postgres.port)
        await add_heaps(day.memory["end"], urls)
        day.pg_activity["end"] = await _pg_activity(database, db_name)
        day_seconds = time.perf_counter() - begin
        # What is left of the budget goes to the workers; the backlog is what they leave.
        drain: list[dict[str, Any]] = []
        drain_until = time.perf_counter() + min(
            size.drain_seconds, max(0.0, BUDGET_SECONDS - (time.perf_counter() - started))
        )
        while True:
            backlog = await _backlog(database)
            drain.append(
                {"after_seconds": round(time.perf_counter() - begin - day_seconds), **backlog}
            )
            if not backlog["queued"] + backlog["running"] or time.perf_counter() >= drain_until:
                break
            await asyncio.sleep(min(15.0, max(0.5, drain_until - time.perf_counter())))
        for reader in readers:
            reader.cancel()
        await _stored(database, {c["linkedid"] for c in calls}, within=30.0)
        checks = await _checks(database, calls, dialed, task_ids, size)
        return _figures(
            size,
            consoles,
            calls,
            dialed,
            day,
            drain,
            checks,
            setup_seconds=setup_seconds,
            day_seconds=day_seconds,
            total_seconds=time.perf_counter() - started,
            scale=hello["time_scale"],
        )
    finally:
        # The processes first: a web process far behind would answer each websocket's close
        # handshake only after its timeout; with the processes gone the sockets close at once.
        if cluster is not None:
            await asyncio.to_thread(_stop_all, cluster, size.finish_seconds)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(c.close() for c in consoles)), timeout=15)
        if pbx.stdin is not None:
            pbx.stdin.close()
        try:
            pbx.wait(30)
        except subprocess.TimeoutExpired:
            pbx.kill()
        redis.stop()
        postgres.stop()


def _stop_all(cluster: Any, grace: float = 20.0) -> None:
    """SIGTERM every process at once (each stops as a deployment's would: a worker finishes
    the job in hand), SIGKILL what is still there after `grace` seconds."""
    nodes = [n for n in cluster.nodes.values() if n.process.poll() is None]
    for node in nodes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for node in nodes:
        try:
            node.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"  {node.name} still stopping after {grace:g} s: killed")
            node.kill()


def _console(consoles: Sequence[AgentConsole], extension: str) -> AgentConsole:
    return consoles[int(extension) - FIRST_EXTENSION]


async def _open_tasks(database: Database, task_ids: list[int]) -> int:
    """Tasks not yet dialed, or dialed with the attempt still open (the call, or the form)."""
    async with database.session() as session:
        attempted = set(
            await session.scalars(
                select(CallbackAttempt.task_id).where(CallbackAttempt.outcome.is_not(None))
            )
        )
    return len(set(task_ids) - attempted)


async def _attempts_closed(database: Database, *, within: float) -> None:
    """Until no callback attempt is open (its call, or its agent's form), for at most
    `within` seconds."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        async with database.session() as session:
            open_attempts = await session.scalar(
                select(func.count(CallbackAttempt.id)).where(CallbackAttempt.outcome.is_(None))
            )
        if not open_attempts:
            return
        await asyncio.sleep(0.5)


async def _stored(database: Database, linkedids: set[str], *, within: float) -> None:
    """Until the bridge has stored every call placed (it writes in batches, behind the
    events), for at most `within` seconds: what is missing then is lost."""
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        async with database.session() as session:
            stored = set(
                await session.scalars(select(Call.linkedid).where(Call.outcome.is_not(None)))
            )
        if linkedids <= stored:
            return
        await asyncio.sleep(0.5)


async def _pause_campaign(database: Database, campaign_id: int) -> None:
    async with database.session() as session:
        campaign = await campaigns.get_or_raise(session, campaign_id)
        await campaigns.transition(session, campaign, "pause", at=SystemClock().now())


async def _checks(
    database: Database,
    calls: list[dict[str, Any]],
    dialed: list[int],
    task_ids: list[int],
    size: Size,
) -> dict[str, Any]:
    """What the database holds against what the PBX did."""
    async with database.session() as session:
        stored = (
            await session.execute(
                select(
                    Call.id,
                    Call.linkedid,
                    Call.outcome,
                    Call.recording_agent,
                    Call.recording_customer,
                )
            )
        ).all()
        linkedids = [row.linkedid for row in stored]
        jobs = list(await session.scalars(select(TranscriptionJob.call_id)))
        legs = (await session.execute(select(Transcript.call_id, Transcript.leg))).all()
        scores = list(await session.scalars(select(CallScore.call_id)))
        attempts = (
            await session.execute(
                select(CallbackAttempt.id, CallbackAttempt.task_id, CallbackAttempt.outcome)
            )
        ).all()
        done_tasks = await session.scalar(
            select(func.count()).select_from(CallbackTask).where(CallbackTask.effective.is_(True))
        )
    placed = {c["linkedid"] for c in calls}
    recorded = {
        row.id
        for row in stored
        if row.outcome is CallOutcome.ANSWERED and (row.recording_agent or row.recording_customer)
    }
    per_task: dict[int, int] = {}
    for attempt in attempts:
        per_task[attempt.task_id] = per_task.get(attempt.task_id, 0) + 1
    dialed_set = set(dialed)
    return {
        "calls_stored": len(stored),
        "calls_lost": len(placed - set(linkedids)),
        "calls_duplicated": len(linkedids) - len(set(linkedids)),
        "answered_recorded": len(recorded),
        "transcription_jobs": len(jobs),
        "transcripts_lost": len(recorded - set(jobs)),
        "transcripts_duplicated": (len(jobs) - len(set(jobs))) + (len(legs) - len(set(legs))),
        "scores": len(scores),
        "scores_duplicated": len(scores) - len(set(scores)),
        "dials": len(dialed),
        "dials_duplicated": (len(dialed) - len(dialed_set))
        + sum(n - 1 for n in per_task.values() if n > 1),
        # An attempt written but never dialed; a task the day's campaign did not reach.
        "dials_lost": len({a.id for a in attempts} - dialed_set),
        "tasks_not_dialed": len(set(task_ids) - set(per_task)),
        "tasks_effective": int(done_tasks or 0),
    }


def _figures(
    size: Size,
    consoles: list[AgentConsole],
    calls: list[dict[str, Any]],
    dialed: list[int],
    day: Day,
    drain: list[dict[str, Any]],
    checks: dict[str, Any],
    *,
    setup_seconds: float,
    day_seconds: float,
    total_seconds: float,
    scale: float,
) -> dict[str, Any]:
    rung = [c for c in calls if c["written"] is not None]
    for call in rung:
        call["received"] = _console(consoles, call["extension"]).pops.get(call["linkedid"])
    arrived = [c for c in rung if c["received"] is not None]
    lost_pops = len(rung) - len(arrived) + (len(calls) - len(rung))
    late_pops = sum(
        1 for c in arrived if c["ring_ended"] is not None and c["received"] > c["ring_ended"]
    )
    callback_pops = {a for c in consoles for a in c.callback_pops}
    callback_pops_lost = len(set(dialed) - callback_pops)
    by_hour: list[dict[str, Any]] = []
    for hour in range(FIRST_HOUR, FIRST_HOUR + HOURS):
        seconds = [c["received"] - c["written"] for c in arrived if c["hour"] == hour]
        if seconds:
            by_hour.append({"hour": f"{hour:02d}:00", **latency_summary(seconds)})
    p99s: list[float] = [float(h["p99_ms"]) for h in by_hour]
    drift = round(max(p99s) / min(p99s), 2) if p99s and min(p99s) > 0 else float("nan")
    all_pops = latency_summary([c["received"] - c["written"] for c in arrived] or [float("nan")])
    growth: dict[str, float] = {}
    heap_growth: dict[str, float] = {}  # live Python blocks: objects kept, whatever the RSS
    start, end = day.memory.get("start", {}), day.memory.get("end", {})
    for name, first in start.items():
        if first["rss_kb"] and name in end:
            growth[name] = round(end[name]["rss_kb"] / first["rss_kb"] - 1, 4)
        if first.get("heap_blocks") and end.get(name, {}).get("heap_blocks"):
            heap_growth[name] = round(end[name]["heap_blocks"] / first["heap_blocks"] - 1, 4)
    final = drain[-1]
    backlog_left = final["queued"] + final["running"]
    zero = {
        "pops_lost": lost_pops,
        "pops_late": late_pops,
        "callback_pops_lost": callback_pops_lost,
        "calls_lost": checks["calls_lost"],
        "calls_duplicated": checks["calls_duplicated"],
        "transcripts_lost": checks["transcripts_lost"],
        "transcripts_duplicated": checks["transcripts_duplicated"],
        "transcripts_failed": final["failed"],
        "dials_lost": checks["dials_lost"],
        "tasks_not_dialed": checks["tasks_not_dialed"],
        "dials_duplicated": checks["dials_duplicated"],
        "form_errors": sum(len(c.form_errors) for c in consoles),
        "websockets_dropped": sum(c.disconnects for c in consoles),
    }
    zero_met = not any(zero.values())
    growth_met = bool(growth) and max(growth.values()) < GOAL_GROWTH
    p99_met = bool(p99s) and max(p99s) < GOAL_P99_MS
    _print(size, by_hour, day, drain, checks, zero, growth, heap_growth, scale, day_seconds)
    for console in consoles:
        for error in console.form_errors[:3]:
            say(f"  form error, {console.login.extension}: {error}")
    return {
        "agents": size.agents,
        "inbound_calls": len(calls),
        "projects": size.projects,
        "time_scale": round(1 / scale, 1),
        "setup_seconds": round(setup_seconds, 1),
        "day_seconds": round(day_seconds, 1),
        "total_seconds": round(total_seconds, 1),
        "zero": zero,
        "pop": all_pops,
        "pop_by_hour": by_hour,
        "pop_p99_drift": drift,
        "backlog_by_hour": day.hours,
        "backlog_after_day": drain,
        "backlog_left": backlog_left,
        "checks": checks,
        "memory": day.memory,
        "rss_growth": growth,
        "heap_growth": heap_growth,
        "pg_stat_activity": day.pg_activity,
        "recordings_cut": day.recordings_cut,
        "goals": {
            "zero_lost_late_duplicated": zero_met,
            f"pop_p99_under_{GOAL_P99_MS:g}_ms_every_hour": p99_met,
            "rss_growth_under_5_percent": growth_met,
            "no_backlog_left": backlog_left == 0,
        },
        "ratio_growth": round(max(growth.values()) / GOAL_GROWTH, 3) if growth else None,
        "ratio_p99": round(max(p99s) / GOAL_P99_MS, 3) if p99s else None,
        "goal_met": zero_met and growth_met and p99_met and backlog_left == 0,
    }


def _print(
    size: Size,
    by_hour: list[dict[str, Any]],
    day: Day,
    drain: list[dict[str, Any]],
    checks: dict[str, Any],
    zero: dict[str, int],
    growth: dict[str, float],
    heap_growth: dict[str, float],
    scale: float,
    day_seconds: float,
) -> None:
    say(f"  the day took {day_seconds:.0f} s (clock ×{1 / scale:.0f})")
    say("  hour   pops  p50 ms  p99 ms  max ms   queued  running   done  failed")
    backlog = {h["hour"]: h for h in day.hours}
    for row in by_hour:
        # The backlog sampled at the end of the hour.
        end = f"{int(row['hour'][:2]) + 1:02d}:00"
        b = backlog.get(end, {})
        say(
            f"  {row['hour']}  {row['samples']:5d}  {row['p50_ms']:6.1f}  {row['p99_ms']:6.1f}"
            f"  {row['max_ms']:6.1f}   {b.get('queued', 0):6d}  {b.get('running', 0):7d}"
            f"  {b.get('done', 0):5d}  {b.get('failed', 0):6d}"
        )
    for row in drain[1:]:
        say(
            f"  +{row['after_seconds']} s after the day: queued {row['queued']}, "
            f"running {row['running']}, done {row['done']}, failed {row['failed']}"
        )
    say(
        f"  calls stored {checks['calls_stored']:,}, answered and recorded "
        f"{checks['answered_recorded']:,}, jobs {checks['transcription_jobs']:,}, scores "
        f"{checks['scores']:,}, dials {checks['dials']:,}, callbacks effective "
        f"{checks['tasks_effective']:,}"
    )
    say("  must be 0: " + ", ".join(f"{k} {v}" for k, v in zero.items()))
    say(
        "  process      rss MB start/middle/end  growth  heap k-blocks  growth  trimmed MB"
        "  children MB  fds  pg conns"
    )
    for name in day.memory.get("start", {}):
        rows = [day.memory[m].get(name, {}) for m in ("start", "middle", "end")]
        mb = "/".join(f"{r.get('rss_kb', 0) / 1024:.0f}" for r in rows)
        heap = "/".join(f"{r.get('heap_blocks', 0) / 1000:.0f}" for r in rows)
        say(
            f"  {name:10s}  {mb:>22s}  {growth.get(name, 0) * 100:+5.1f}%"
            f"  {heap:>13s}  {heap_growth.get(name, 0) * 100:+5.1f}%"
            f"  {rows[-1].get('returned_bytes', 0) / 1e6:10.1f}"
            f"  {rows[-1].get('children_rss_kb', 0) / 1024:11.0f}"
            f"  {'/'.join(str(r.get('fds', 0)) for r in rows):>12s}"
            f"  {'/'.join(str(r.get('pg_connections', 0)) for r in rows)}"
        )
    say(f"  pg_stat_activity (start/middle/end): {day.pg_activity}")
    del size


def run(quick: bool = False, day_seconds: float | None = None) -> dict[str, Any]:
    size = QUICK if quick else FULL
    if day_seconds is not None:
        size = Size(**{**size.__dict__, "day_seconds": day_seconds})
    say(f"busy_day: the production topology through one simulated day{' (quick)' if quick else ''}")
    with scratch_dir(NAME) as directory:
        figures = asyncio.run(_run(size, directory))
    return finish(NAME, figures)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.busy_day", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--day-seconds", type=float, help="real seconds the simulated day lasts")
    args = parser.parse_args()
    run(quick=args.quick, day_seconds=args.day_seconds)


if __name__ == "__main__":
    main()
