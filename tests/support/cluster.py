"""Several `callcentre serve --role …` processes on one machine, as a deployment runs them:
real subprocesses sharing a PostgreSQL database and a Redis server, each with its own log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.live import free_port

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

    def start(self, name: str, roles: str, *, http: bool = False) -> Node:
        port = free_port() if http else None
        log = self.root / f"{name}.log"
        command = [*_command(), "serve", "--role", roles]
        if port is not None:
            command += ["--port", str(port)]
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
