"""For the tests of deploy/: the Debian tools they run (systemd-analyze, nginx, rsync …),
found, or the test skipped saying which package brings it (`missing`, for anything else a
machine may lack) — except under CI=true, where
.ci/apt-packages installs them all and a missing one fails the test instead; and a
`callcentre` command line parsed as the command would, without running it."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import click
import pytest

from web.cli import cli


def need(tool: str, package: str) -> str:
    """The tool's path; without it, skip (fail under CI=true) naming the Debian package."""
    found = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        missing(f"{tool} is not installed: `sudo apt-get install {package}` (.ci/apt-packages)")
    return found


def missing(message: str) -> NoReturn:
    """Skip the test for what this machine lacks; under CI=true, which installs everything
    the tests need, fail it instead, so that a missing install step cannot hide."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def parse_command_line(args: list[str]) -> click.Context:
    """The context `callcentre ARGS…` would run its (sub)command with: a bad option or
    value raises click's error, as the command would refuse it."""
    ctx = click.Context(cli, info_name="callcentre", obj={})
    group: click.Group = cli
    while True:
        name, *args = args
        command = group.get_command(ctx, name)
        assert command is not None, f"no command {name!r}"
        if not isinstance(command, click.Group):
            return command.make_context(name, args, parent=ctx)
        group = command
