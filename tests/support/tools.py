"""Debian tools some tests run (systemd-analyze, nginx, rsync, pg_dump …): found, or the test
is skipped saying which package brings it — except under CI=true, where .ci/apt-packages
installs them all and a missing one fails the test instead."""

from __future__ import annotations

import os
import shutil

import pytest


def need(tool: str, package: str) -> str:
    """The tool's path; without it, skip (fail under CI=true) naming the Debian package."""
    found = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        message = f"{tool} is not installed: `sudo apt-get install {package}` (.ci/apt-packages)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found
