"""Several `callcentre serve --role …` processes on one machine, as a deployment runs them:
real subprocesses sharing a PostgreSQL database and a Redis server, each with its own log;
and the whole deployment (every role beside the PBX simulator) the cluster tests start."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.typing import Origin

from crm.callbacks import service as callbacks
from crm.callbacks.models import Stage
from crm.callbacks.schedule import ScheduleRules
from crm.campaigns import service as campaigns
from crm.clock import SystemClock, local_today
from crm.customers import service as customers
from crm.db import Database
from crm.projects import service as projects
from crm.projects.models import ProjectStatus
from crm.settings import load_settings
from crm.users import service as users
from telephony import contract
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from telephony.pbx_sim import actions as sim_actions
from tests.data.speech_audio import KOREAN_MODEL
from tests.support.live import PASSWORD, create_staff, free_port
from tests.support.postgres import PostgresServer
from tests.support.redis import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def _command() -> list[str]:
    script = Path(sys.executable).parent / "callcentre"
    return [str(script)] if script.exists() else [sys.executable, "-m", "web.cli"]


@dataclass
class Node:
    name: str
    roles: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, f"{self.name} serves no HTTP"
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the process and its children (a transcriber), as a crash would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    nodes: dict[str, Node] = field(default_factory=dict)

    def start(self, name: str, roles: str, *, http: bool = False, health: bool = False) -> Node:
        """`http`: a web process on its own port; `health`: a process without the web role
        serving /healthz and /metrics on its own port (`--health-port`)."""
        port = free_port() if http or health else None
        log = self.root / f"{name}.log"
        command = [*_command(), "serve", "--role", roles]
        if port is not None:
            command += ["--health-port" if health else "--port", str(port)]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        node = Node(name, roles, process, log, port)
        self.nodes[name] = node
        return node

    async def wait_log(self, node: Node, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in node.output():
            assert node.process.poll() is None, f"{node.name} exited:\n{node.output()}"
            assert time.monotonic() < deadline, (
                f"{node.name} never said {text!r}:\n{node.output()[-3000:]}"
            )
            await asyncio.sleep(0.1)

    async def wait_healthy(self, node: Node, timeout: float = 60.0) -> dict[str, object]:
        """/healthz answers, and the PBX is connected (through the bridge, for a web role)."""
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=node.url, timeout=5) as client:
            while True:
                assert node.process.poll() is None, f"{node.name} exited:\n{node.output()}"
                try:
                    response = await client.get("/healthz")
                    body = response.json()
                    if response.status_code == 200 and body.get("pbx", {}).get("connected"):
                        return dict(body)
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (
                    f"{node.name} not healthy:\n{node.output()[-3000:]}"
                )
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()


def open_calling_day(folder: Path) -> dict[str, str]:
    """The settings under which a real server may dial now, whatever the hour and the real
    calendar: calling hours all day, and today and tomorrow (a run across midnight) working
    days in a calendar written to `folder`."""
    today = local_today(SystemClock(), load_settings().tz)
    days = (today, today + timedelta(days=1))
    calendar = folder / "calendar.toml"
    sections = []
    for year in sorted({d.year for d in days}):
        listed = ", ".join(f'"{d.isoformat()}"' for d in days if d.year == year)
        sections.append(f"[{year}]\nworkdays = [{listed}]\n")
    calendar.write_text("".join(sections))
    return {"CALLCENTRE_CALLING_HOURS": "00:00-23:59", "CALLCENTRE_HOLIDAYS_PATH": str(calendar)}


def cluster_env(
    *,
    database_url: str,
    redis_url: str,
    ami_port: int,
    ami_secret: str,
    recordings: Path,
    folder: Path,
) -> dict[str, str]:
    """The environment of every process: this one's, less any CALLCENTRE_* of the developer,
    plus the shared database, Redis, the simulated PBX, quick timings and a calling day
    (`open_calling_day`, its calendar written to `folder`)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALLCENTRE_")}
    env.update(
        {
            "CALLCENTRE_DATABASE_URL": database_url,
            "CALLCENTRE_REDIS_URL": redis_url,
            "CALLCENTRE_SECRET_KEY": "cluster-test-secret-key",
            "CALLCENTRE_AMI_PORT": str(ami_port),
            "CALLCENTRE_AMI_SECRET": ami_secret,
            "CALLCENTRE_AMI_PING_INTERVAL": "0.5",
            "CALLCENTRE_AMI_RECONNECT_MIN": "0.05",
            "CALLCENTRE_AMI_RECONNECT_MAX": "0.5",
            "CALLCENTRE_DEFAULT_AREA_CODE": "029",
            "CALLCENTRE_DISK_WARN_PERCENT": "0",  # the host's free space is not under test
            "CALLCENTRE_RECORDINGS_DIR": str(recordings),
            "CALLCENTRE_VOSK_MODEL_PATH": str(KOREAN_MODEL),
            "CALLCENTRE_TRANSCRIPTION_WORKERS": "1",
            "CALLCENTRE_TRANSCRIPTION_LEASE_SECONDS": "4",
            "CALLCENTRE_WRAPUP_SECONDS": "1",
            "CALLCENTRE_DIALER_CALLS_PER_SECOND": "5",
            **open_calling_day(folder),
        }
    )
    return env


class Originates:
    """Every Originate the simulated PBX received, by the attempt it was for."""

    def __init__(self) -> None:
        self.attempts: list[int] = []

    def wrap(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def start_originate(pbx: Any, request: Any, plan: Any) -> Any:
            variables = dict(request.variables)
            if contract.VAR_ATTEMPT_ID in variables:
                self.attempts.append(int(variables[contract.VAR_ATTEMPT_ID]))
            return original(pbx, request, plan)

        return start_originate


class Agent:
    """An agent's browser on one web process: its session, and its websocket's messages."""

    def __init__(self, node: Node, username: str) -> None:
        self.node, self.username = node, username
        self.messages: list[dict[str, Any]] = []
        self.hello: dict[str, Any] = {}

    async def __aenter__(self) -> Agent:
        self.http = httpx.AsyncClient(base_url=self.node.url, timeout=20)
        response = await self.http.post(
            "/api/auth/login", json={"username": self.username, "password": PASSWORD}
        )
        response.raise_for_status()
        self.http.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.socket = await websockets.connect(
            self.node.ws_url, origin=Origin(self.node.url), additional_headers={"Cookie": cookie}
        )
        self.hello = json.loads(await self.socket.recv())
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.socket:
            self.messages.append(json.loads(raw))

    async def __aexit__(self, *exc: object) -> None:
        await self.socket.close()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.http.aclose()

    async def set_state(self, status: str) -> dict[str, Any]:
        response = await self.http.put("/api/agent/state", json={"status": status})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = next((m for m in self.messages if match(m)), None)
            if found is not None:
                return found
            assert time.monotonic() < deadline, f"{self.username}: {self.messages}"
            await asyncio.sleep(0.05)


async def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


@asynccontextmanager
async def staffed_database(
    postgres: PostgresServer, template: str, name: str
) -> AsyncIterator[Database]:
    """A database of the test's own (`<name>_<pid>`, a copy of the migrated template) with
    the live tests' staff (`create_staff`: agent1 at 1001, agent2 at 1002, the supervisor)."""
    database_name = f"{name}_{os.getpid()}"
    postgres.psql(f"CREATE DATABASE {database_name} TEMPLATE {template}")
    database = Database(postgres.url(database_name))
    await create_staff(database)
    try:
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def running_deployment(
    database: Database,
    redis: RedisServer,
    root: Path,
    *,
    ami_secret: str,
    time_scale: float,
    seed: int,
    env: dict[str, str] | None = None,
    health: bool = False,
) -> AsyncIterator[tuple[Cluster, PbxSimulator, Originates]]:
    """The PBX simulator and every role on it: a bridge, two web processes (web-a, web-b),
    two transcription workers and two dialers, once each is ready and one dialer active.
    `env`: settings over cluster_env's; `health`: the processes without the web role serve
    /healthz and /metrics too."""
    recordings = root / "recordings"
    originates = Originates()
    patch = pytest.MonkeyPatch()
    patch.setattr(sim_actions, "start_originate", originates.wrap(sim_actions.start_originate))
    sim = PbxSimulator(
        SimulatorConfig(
            port=0,
            user="callcentre",
            secret=ami_secret,
            time_scale=time_scale,
            seed=seed,
            recordings_dir=recordings,
            busy_numbers=["1370*"],
        ),
        clock=SystemClock(),
    )
    _, ami_port = await sim.start()
    cluster = Cluster(
        root,
        cluster_env(
            database_url=database.url,
            redis_url=redis.url,
            ami_port=ami_port,
            ami_secret=ami_secret,
            recordings=recordings,
            folder=root,
        )
        | (env or {}),
    )
    try:
        cluster.start("bridge", "bridge", health=health)
        cluster.start("web-a", "web", http=True)
        cluster.start("web-b", "web", http=True)
        for name in ("worker-a", "worker-b"):
            cluster.start(name, "worker", health=health)
        for name in ("dialer-a", "dialer-b"):
            cluster.start(name, "dialer", health=health)
        for name in ("web-a", "web-b"):
            await cluster.wait_healthy(cluster.nodes[name])
        for name in ("worker-a", "worker-b"):
            await cluster.wait_log(cluster.nodes[name], "takes jobs from Redis")
        await eventually(lambda: any_dialer_active(cluster), 60, "a dialer to become active")
        yield cluster, sim, originates
    finally:
        cluster.stop()
        await sim.stop()
        patch.undo()


async def any_dialer_active(cluster: Cluster) -> bool:
    return any("dialer active" in cluster.nodes[name].output() for name in ("dialer-a", "dialer-b"))


async def running_campaign(database: Database, count: int, *, series: str) -> tuple[int, list[int]]:
    """A started campaign (by the supervisor) over `count` customers' midterm callbacks, due
    today, whose numbers (`137<series><index>`) the simulator answers busy: each attempt ends at
    once and is retried much later. The campaign's id and its tasks'."""
    today = local_today(SystemClock(), load_settings().tz)
    task_ids = []
    async with database.session() as session:
        for index in range(count):
            phone = f"137{series}{index:05d}"
            owner = await customers.create(session, name=f"客户{index}", phones=[phone])
            project = await projects.create(
                session,
                customer=owner,
                contract_number=f"C-{phone}",
                rules=ScheduleRules(window_days=3, post_completion_months=0),
                status=ProjectStatus.IN_PROGRESS,
                start_date=today - timedelta(days=40),
                concealed_works_date=today - timedelta(days=20),
                midterm_date=today,
            )
            tasks = await callbacks.get_for_project(session, project.id)
            task_ids.append(next(t.id for t in tasks if t.stage is Stage.MIDTERM))
        supervisor = await users.get_by_username(session, "supervisor")
        assert supervisor is not None
        created = await campaigns.create(
            session, owner_id=supervisor.id, name="中期回访", stages=["midterm"]
        )
        await campaigns.transition(session, created, "start", at=SystemClock().now())
        return created.id, task_ids
