"""Without the Asterisk lab, a run says so once at the start and once in the summary with the
number of `asterisk` tests that did not run, and why: serially and on several pytest-xdist
workers (where only the workers collect and run, only the controller prints, and the workers
start after tests/conftest.py cleared the CALLCENTRE_* variables)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lab.plugin import BANNER

ROOT = Path(__file__).resolve().parents[1]
TESTS = """
import pytest


@pytest.mark.asterisk
def test_against_asterisk_one() -> None:
    pass


@pytest.mark.asterisk
def test_against_asterisk_two() -> None:
    pass


def test_anywhere() -> None:
    pass
"""

# As tests/conftest.py does, after the lab's plugin has read its variables.
CONFTEST = """
import os


def pytest_configure(config):
    for key in [k for k in os.environ if k.startswith("CALLCENTRE_")]:
        del os.environ[key]
"""


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        (None, "CALLCENTRE_LAB_ASTERISK is not set"),
        ("/nonexistent/asterisk", "CALLCENTRE_LAB_ASTERISK=/nonexistent/asterisk: no executable"),
    ],
)
def test_the_missing_lab_is_announced_once(
    tmp_path: Path, workers: str, prefix: str | None, reason: str
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    asterisk: the lab\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_sample.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    env["PYTHONPATH"] = str(ROOT)
    if prefix is not None:
        env["CALLCENTRE_LAB_ASTERISK"] = prefix
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.lab.plugin", "-n", workers, "-rs"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "1 passed, 2 skipped" in out, out
    assert out.count(f"!!! {BANNER}: {reason}") == 1, out
    assert out.count(f"2 test(s) against a real Asterisk were not run: {reason}") == 1, out
    # The reason each test was skipped with: where it ran, the lab's variables were known.
    skips = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert skips and all(reason in line for line in skips), out
