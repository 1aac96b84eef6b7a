"""A throwaway PostgreSQL server for the tests, from Debian's `postgresql` package.

initdb refuses to run as root, so as root the data directory is owned by `postgres` and the
server runs as that user (runuser); as any other user it runs as that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        found = shutil.which("initdb")
        if found is None:
            raise PostgresUnavailable(
                "PostgreSQL is not installed: `sudo apt-get install postgresql` "
                "(the README's test command and .ci/run do this)"
            )
        return Path(found).parent
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    user: str = "app"

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")

    def start(self) -> None:
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            self.user,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        self.resume()

    def resume(self) -> None:
        """Start the server on its data directory (again, after `pause()`)."""
        options = (
            f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.root / "data"),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def pause(self) -> None:
        """Stop the server as an operator would (fast: clients disconnected, data kept)."""
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"
        )

    def stop(self) -> None:
        try:
            self._run(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def psql(self, *statements: str, database: str = "postgres") -> None:
        """Each statement on its own (one psql: `CREATE DATABASE` refuses a transaction)."""
        commands = [arg for sql in statements for arg in ("-c", sql)]
        self._run(
            str(self.bindir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            *commands,
        )


def start_server() -> PostgresServer:
    bindir = find_bindir()
    root = Path(tempfile.mkdtemp(prefix="callcentre-pg-"))
    os.chmod(root, 0o755)
    server = PostgresServer(bindir=bindir, root=root, port=_free_port())
    for attempt in range(3):
        try:
            server.start()
            return server
        except PostgresUnavailable:
            if attempt == 2:
                raise
            server.port = _free_port()
            shutil.rmtree(root / "data", ignore_errors=True)
            time.sleep(0.5)
    raise AssertionError("unreachable")
