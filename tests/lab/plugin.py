"""pytest side of the Asterisk lab: the `asterisk` marker's tests run whenever the lab is
present (also in the default run, also under CI), and a session without it says so loudly,
at the start and in the summary, with the reason. It is the one allowed exception to
"nothing skipped under CI": CI machines cannot have Asterisk."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab import ami_tap
from tests.lab.availability import absent_reason
from tests.lab.lab import Lab, Scene
from tests.lab.pbx import LabPbx
from tests.lab.settings import CAPTURE_DIR_VARIABLE, VARIABLES, LabSettings

_REASON = pytest.StashKey[str | None]()
_ENVIRON = pytest.StashKey[dict[str, str]]()
_WORKER_INPUT = "asterisk_lab_environ"
BANNER = "ASTERISK LAB NOT AVAILABLE: the `asterisk` tests did NOT run"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # Read before tests/conftest.py clears every CALLCENTRE_* variable. A pytest-xdist worker
    # starts after the controller cleared them: it has them from the controller instead.
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None and _WORKER_INPUT in workerinput:
        environ = dict(workerinput[_WORKER_INPUT])
    else:
        environ = {k: os.environ[k] for k in VARIABLES if k in os.environ}
    config.stash[_ENVIRON] = environ
    config.stash[_REASON] = absent_reason(environ)
    ami_tap.CAPTURE_DIR = environ.get(CAPTURE_DIR_VARIABLE)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, for each worker it starts: the lab's variables as this process read them."""
    node.workerinput[_WORKER_INPUT] = node.config.stash[_ENVIRON]


def pytest_report_header(config: pytest.Config) -> str:
    reason = config.stash.get(_REASON, None)
    if reason is None:
        settings = LabSettings.from_environ(config.stash[_ENVIRON])
        return f"asterisk lab: {settings.asterisk} (runtime {settings.directory})"
    return f"!!! {BANNER}: {reason}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = config.stash.get(_REASON, None)
    if reason is None:
        return
    for item in items:
        if item.get_closest_marker("asterisk"):
            item.add_marker(pytest.mark.skip(reason=f"{BANNER}: {reason}"))


def _not_run(report: pytest.TestReport) -> bool:
    """A test skipped because the lab is absent. Counted from the reports, not at collection:
    under pytest-xdist only the workers collect, and only the controller prints the summary."""
    longrepr = report.longrepr
    return isinstance(longrepr, tuple) and BANNER in str(longrepr[-1])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    config = terminalreporter.config
    reason = config.stash.get(_REASON, None)
    count = sum(_not_run(report) for report in terminalreporter.stats.get("skipped", []))
    if reason is None or not count:
        return
    terminalreporter.section(BANNER, sep="!", red=True, bold=True)
    terminalreporter.write_line(f"{count} test(s) against a real Asterisk were not run: {reason}")
    terminalreporter.write_line(
        "Point CALLCENTRE_LAB_ASTERISK at an installed Asterisk 22 and install baresip "
        "(README.md, 'The Asterisk lab')."
    )


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> Iterator[Lab]:
    """The lab's Asterisk, started once for the session (or the one already running from
    `python -m tests.lab start`, left running)."""
    reason = pytestconfig.stash.get(_REASON, None)
    if reason is not None:  # only reached by a test that forgot the marker
        pytest.fail(f"{BANNER}: {reason}; mark the test @pytest.mark.asterisk", pytrace=False)
    settings = LabSettings.from_environ(pytestconfig.stash[_ENVIRON])
    pbx = LabPbx(settings)
    started = not pbx.running()
    if started:
        pbx.start()
    try:
        yield Lab(settings, pbx)
    finally:
        if started:
            pbx.stop()


@pytest.fixture
async def scene(lab: Lab, tmp_path: Path) -> AsyncIterator[Scene]:
    """The phones of one test; afterwards every call is hung up and the lab reset."""
    await lab.reset()
    current = Scene(lab, tmp_path / "phones")
    try:
        yield current
    finally:
        await current.close()
