"""deploy/Dockerfile, read without a Docker daemon: two stages, the server's packages copied
(and not ignored), an unprivileged user, no secret baked in, a `callcentre` command line the
command accepts, and a health check that passes on a healthy server's /healthz and fails on a
503. The wheel it installs carries every file the packages need at run time."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import re
import shlex
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import uvicorn

from crm.clock import SystemClock
from crm.db import Database
from crm.settings import load_settings
from tests.support.live import free_port
from tests.support.tools import parse_command_line
from web.app import create_app
from web.server import web_config

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
IGNORE = ROOT / ".dockerignore"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: continuation lines joined, comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def _packages() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    include = project["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(pattern.rstrip("*") for pattern in include)


def test_two_stages_and_the_servers_packages() -> None:
    steps = instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    copied = [shlex.split(rest) for word, rest in steps if word == "COPY"]
    sources = {src for args in copied if not args[0].startswith("--") for src in args[:-1]}
    assert set(_packages()) | {"pyproject.toml", "README.md"} <= sources
    ignored = [
        line.strip() for line in IGNORE.read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    assert any(args[0] == "--from=build" for args in copied)  # only the built environment
    assert not [rest for word, rest in steps if word == "ADD"]  # nothing fetched by URL


def test_the_image_runs_as_an_unprivileged_user() -> None:
    users = [rest for word, rest in final_stage() if word == "USER"]
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and (not user.isdigit() or int(user) >= 1000)
    assert "--uid " + user in " ".join(rest for word, rest in final_stage() if word == "RUN")


def test_no_secret_is_baked_in() -> None:
    for word, rest in instructions():
        if word in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|_KEY\b|DATABASE_URL|REDIS_URL", rest), rest


def test_the_command_is_one_callcentreparse_command_line() -> None:
    stage = dict(final_stage())
    entrypoint, command = json.loads(stage["ENTRYPOINT"]), json.loads(stage["CMD"])
    assert entrypoint == ["callcentre"]
    ctx = parse_command_line(command)
    assert ctx.info_name == "serve" and ctx.params["host"] == "0.0.0.0"
    assert f"EXPOSE {ctx.params['port']}" in [f"{w} {r}" for w, r in final_stage()]
    assert f"HEALTHCHECK_PORT={ctx.params['port']}" in stage["ENV"]


def _health_check() -> list[str]:
    (check,) = [rest for word, rest in final_stage() if word == "HEALTHCHECK"]
    options, _, command = check.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = json.loads(command)
    assert argv[0] == "python" and "/healthz" in argv[-1]
    return [sys.executable, *argv[1:]]


async def _check_against(database_url: str) -> int:
    settings = load_settings(database_url=database_url)
    database = Database(database_url)
    app = create_app(
        settings,
        database=database,
        with_bridge=False,
        with_transcription=False,
        clock=SystemClock(),
    )
    config = web_config(app, host="127.0.0.1", port=free_port())
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), serving.result()
            await asyncio.sleep(0.02)
        check = await asyncio.create_subprocess_exec(
            *_health_check(),
            env={"HEALTHCHECK_PORT": str(config.port)},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return await asyncio.wait_for(check.wait(), 30)
    finally:
        server.should_exit = True
        await serving
        await database.dispose()


async def test_the_health_check_passes_a_healthy_server_and_fails_a_503(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert await _check_against(sqlite_url) == 0
    # Not migrated: /healthz answers 503 (`callcentre db upgrade`?), the check fails.
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    assert await _check_against(empty) != 0


def test_the_wheel_carries_every_file_the_packages_need(tmp_path: Path) -> None:
    """What `pip install .` puts in the image: each package file (templates, scripts, TOML
    data, migrations) that is not a cache."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps",
         "--quiet", "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("callcentre-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        str(path.relative_to(ROOT))
        for package in _packages()
        for path in (ROOT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert sorted(needed - inside) == []
