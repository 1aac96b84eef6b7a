"""The `callcentre` command as a newcomer uses it: real processes, real files."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from pydantic import SecretStr

from crm.clock import SystemClock
from telephony.ami.client import AmiClient, AmiEndpoint

CALLCENTRE = [sys.executable, "-m", "web.cli"]
ROOT = Path(__file__).resolve().parents[1]


def run(
    *args: str, env: dict[str, str] | None = None, check: bool = True, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CALLCENTRE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        check=check,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "CALLCENTRE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCENTRE_DEFAULT_AREA_CODE": "029",
        "CALLCENTRE_DISK_WARN_PERCENT": "0",  # the host's free space is not under test
    }


def test_bad_setting_names_the_variable(env: dict[str, str]) -> None:
    result = run("db", "upgrade", env={**env, "CALLCENTRE_AMI_PORT": "lots"}, check=False)
    assert result.returncode != 0
    assert "CALLCENTRE_AMI_PORT" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_report_date_outside_the_supported_range_is_refused_by_name(
    env: dict[str, str], day: str
) -> None:
    result = run("report", "weekly", "--date", day, env=env, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'--date'" in result.stderr and "between 2000-01-01 and 2100-12-31" in result.stderr


def test_upgrade_seed_and_import(env: dict[str, str], tmp_path: Path) -> None:
    assert "database at head" in run("db", "upgrade", env=env).stdout
    seeded = run("seed", "--customers", "15", env=env)
    assert "agent1 / demo1234" in seeded.stdout

    good = tmp_path / "good.csv"
    good.write_text(
        "客户姓名,电话,合同编号,开工日期,中期验收日期\n"
        "赵四,+86 135 1234 5678,IMP-1,2026-03-01,2026年4月20日\n"
        "钱五,(029)8765 4321,IMP-2,2026/3/5,\n",
        encoding="utf-8-sig",
    )
    imported = run("import", str(good), env=env)
    assert imported.returncode == 0, imported.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "客户姓名,电话,合同编号,开工日期,中期验收日期\n"
        "孙六,13600001111,IMP-3,2026-03-01,2026-04-20\n"
        "周七,not a phone,IMP-4,2026-03-01,2026-02-01\n",
        encoding="utf-8",
    )
    rejected = run("import", str(bad), env=env, check=False)
    assert rejected.returncode != 0
    assert "row 3" in rejected.stderr and "nothing was imported" in rejected.stderr

    db = sqlite3.connect(env["CALLCENTRE_DATABASE_URL"].split("///", 1)[1])
    names = {n for (n,) in db.execute("SELECT name FROM customers")}
    assert {"赵四", "钱五"} <= names and "孙六" not in names
    assert db.execute(
        "SELECT number FROM phones p JOIN customers c ON c.id = p.customer_id WHERE c.name = '钱五'"
    ).fetchone() == ("02987654321",)


def test_pbx_sim_command_speaks_ami(env: dict[str, str]) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *CALLCENTRE,
            "pbx-sim",
            "--port",
            str(port),
            "--secret",
            "s3cret",
            "--no-callers-from-db",
            "--time-scale",
            "0.05",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:

        async def talk() -> list:
            events: list = []
            client = AmiClient(
                AmiEndpoint("127.0.0.1", port, "callcentre", SecretStr("s3cret")),
                on_event=events.append,
                backoff_min=0.1,
                backoff_max=0.2,
                clock=SystemClock(),
            )
            task = asyncio.create_task(client.run())
            deadline = time.monotonic() + 20
            while not client.connected:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            status = await client.send({"Action": "QueueStatus"}, as_list=True)
            await client.close()
            await task
            return status

        status = asyncio.run(talk())
        assert status[0]["Response"] == "Success"
        assert status[-1]["Event"] == "QueueStatusComplete"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)  # faulthandler: every thread's stack
            output, _ = process.communicate(timeout=10)
            raise AssertionError(f"pbx-sim did not stop on SIGINT:\n{output}") from None


def test_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *CALLCENTRE,
            "demo",
            "--port",
            str(port),
            "--dir",
            str(tmp_path / "demo"),
            "--customers",
            "40",
            "--calls-per-minute",
            "120",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None  # stdout=PIPE
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while not any(f"http://127.0.0.1:{port}" in line for line in output):
            assert process.poll() is None, "".join(output)
            assert time.monotonic() < deadline, "".join(output)
            output.append(process.stdout.readline())
        for _ in range(12):  # the logins follow the URL
            output.append(process.stdout.readline())
        text = "".join(output)
        for login in (
            "agent1 / demo1234",
            "supervisor / demo1234",
            "qa / demo1234",
            "admin / demo1234",
        ):
            assert login in text
        health: dict = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                    health = json.load(response)
            except OSError:
                time.sleep(0.2)
                continue
            if health["pbx"]["connected"] and health["pbx"]["events_processed"] > 0:
                break
            time.sleep(0.2)
        assert health["status"] == "ok" and health["database"]["ok"]
        assert health["pbx"]["connected"]
        db = sqlite3.connect(tmp_path / "demo" / "callcentre.db")
        while time.monotonic() < deadline:
            if db.execute("SELECT count(*) FROM calls").fetchone()[0] > 0:
                break
            time.sleep(0.3)
        assert db.execute("SELECT count(*) FROM calls").fetchone()[0] > 0
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 40
    finally:
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
        assert process.returncode == 0
    # Ctrl-C is an orderly stop, not a cancel in uvicorn's loop logged as two tracebacks.
    assert "Traceback" not in rest and "ERROR" not in rest, rest[-3000:]
    assert "Application shutdown complete." in rest


INTERRUPTED_ON_A_WORKER_THREAD = """
import asyncio, signal, threading, time
from web.cli import _run

def idle_thread():
    # Ctrl-C lands on another thread than the main one (the kernel picks any thread), which
    # then has nothing to hand to the loop: an executor's thread between jobs.
    time.sleep(0.5)  # the loop is asleep in select() by now
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)
    threading.Event().wait(60)

async def main():
    threading.Thread(target=idle_thread, daemon=True).start()
    await asyncio.Event().wait()

_run(main)
print("exited")
"""


def test_ctrl_c_stops_a_command_whichever_thread_takes_the_signal() -> None:
    """asyncio.run's own handler runs only on the main thread: a SIGINT taken by a worker
    thread left the loop asleep for good (`callcentre pbx-sim` hung in the suite)."""
    result = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_ON_A_WORKER_THREAD],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "exited"
    assert "stopped" in result.stderr
