"""A throwaway Redis server for the tests, from Debian's `redis-server` package: no
periodic saving, loopback only, a free port, gone with its temporary directory. An outage
test can stop it (its data saved, as a clean shutdown of a real one does) and start it again
on the same port with the same data."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class RedisUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RedisUnavailable(
                "Redis is not installed: `sudo apt-get install redis-server` "
                "(the README's test command and .ci/run do this)"
            )
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--daemonize",
                "no",
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not _answers_ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = self.root / "redis.log"
                raise RedisUnavailable(
                    f"redis-server did not start on port {self.port}: "
                    f"{log.read_text() if log.exists() else ''}"
                )
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop it as an operator would (SHUTDOWN SAVE): the data is kept for `start()`."""
        assert self.process is not None
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"SHUTDOWN SAVE\r\n")
            sock.recv(64)  # the server closes the connection once saved
        self.process.wait(20)

    def stop(self) -> None:
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.terminate()
                self.process.wait(10)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> RedisServer:
    for attempt in range(3):
        server = RedisServer(
            root=Path(tempfile.mkdtemp(prefix="callcentre-redis-")), port=_free_port()
        )
        try:
            server.start()
            return server
        except RedisUnavailable:
            server.stop()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
