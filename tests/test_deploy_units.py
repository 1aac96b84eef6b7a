"""deploy/systemd/: every unit passes `systemd-analyze verify` (installed where the units
say, here the test's own virtual environment and checkout), is hardened ("OK" or better by
`systemd-analyze security`), keeps its secrets in the EnvironmentFile, and starts a
`callcentre` command line the command itself accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import need, parse_command_line
from web.runtime.roles import ProcessRole, parse_roles

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "deploy" / "systemd"
PREFIX = "/opt/callcentre/venv"  # where the units expect the server's virtual environment
DEPLOY = "/opt/callcentre/deploy"  # and deploy/'s scripts
SERVICES = sorted(p.name for p in UNITS.glob("*.service"))
ROLE_UNITS = {
    ProcessRole.WEB: "callcentre-web@.service",
    ProcessRole.BRIDGE: "callcentre-bridge.service",
    ProcessRole.WORKER: "callcentre-worker.service",
    ProcessRole.DIALER: "callcentre-dialer.service",
}
RECORDINGS = "/srv/callcentre/recordings"
HARDENING = {
    "User": "callcentre",
    "EnvironmentFile": "/etc/callcentre/callcentre.env",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "CapabilityBoundingSet": "",
    "RestrictSUIDSGID": "yes",
}
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 safe … 10 unsafe; "OK" is under 4


def directives(path: Path) -> dict[str, list[str]]:
    """Key → values of a unit file (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The units as installed on this machine: the venv and scripts where they really are
    (systemd-analyze verify checks that ExecStart= exists), and an instance of the web
    template."""
    target = tmp_path_factory.mktemp("units")
    venv = Path(sys.executable).parent.parent
    for unit in UNITS.iterdir():
        text = unit.read_text(encoding="utf-8")
        text = text.replace(PREFIX, str(venv)).replace(DEPLOY, str(ROOT / "deploy"))
        (target / unit.name).write_text(text, encoding="utf-8")
    template = (target / "callcentre-web@.service").read_text(encoding="utf-8")
    (target / "callcentre-web@8001.service").write_text(template, encoding="utf-8")
    return target


def test_every_unit_passes_systemd_analyze_verify(installed: Path) -> None:
    analyze = need("systemd-analyze", "systemd")
    units = sorted(str(p) for p in installed.iterdir())
    result = subprocess.run(
        [analyze, "verify", *units], capture_output=True, text=True, timeout=120, check=False
    )
    # verify exits 0 on an unknown key or a bad value, only saying so: any word is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_hardened(installed: Path, service: str) -> None:
    analyze = need("systemd-analyze", "systemd")
    unit = installed / service.replace("@.", "@8001.")
    result = subprocess.run(
        [analyze, "security", "--offline=true", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    exposure = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert exposure, result.stdout + result.stderr
    assert float(exposure[1]) <= MAX_EXPOSURE, result.stdout
    found = directives(UNITS / service)
    for key, value in HARDENING.items():
        assert found.get(key) == [value], f"{service}: {key}={value}"


@pytest.mark.parametrize("service", SERVICES)
def test_no_secret_is_written_in_a_unit(service: str) -> None:
    """Units are world-readable: settings come from the root-only EnvironmentFile."""
    found = directives(UNITS / service)
    assert "Environment" not in found, f"{service}: settings belong in the EnvironmentFile"
    text = (UNITS / service).read_text(encoding="utf-8")
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"CALLCENTRE_|PASSWORD|SECRET|postgres\S*://|rediss?://", code), service


@pytest.mark.parametrize("role", list(ROLE_UNITS))
def test_each_role_has_its_unit_and_a_valid_command_line(role: ProcessRole) -> None:
    unit = ROLE_UNITS[role]
    found = directives(UNITS / unit)
    (exec_start,) = found["ExecStart"]
    program, *args = shlex.split(exec_start.replace("%i", "8001"))
    assert program == f"{PREFIX}/bin/callcentre"
    ctx = parse_command_line(args)
    assert ctx.info_name == "serve"
    assert parse_roles(ctx.params["role_names"]) == frozenset({role})
    assert ctx.params["host"] == "127.0.0.1"  # the proxy and Prometheus reach it locally
    if role is not ProcessRole.WEB:
        assert ctx.params["health_port"] is not None  # /healthz and /metrics, alone
    assert found["WantedBy"] == ["callcentre.target"]
    if role in (ProcessRole.WEB, ProcessRole.WORKER):  # play, fetch, delete recordings
        assert found["ReadWritePaths"] == [RECORDINGS]
    else:
        assert "ReadWritePaths" not in found


def test_the_oneshots_run_what_the_readme_says() -> None:
    upgrade = directives(UNITS / "callcentre-db-upgrade.service")
    program, *args = shlex.split(upgrade["ExecStart"][0])
    assert program == f"{PREFIX}/bin/callcentre" and parse_command_line(args).info_name == "upgrade"
    backup = directives(UNITS / "callcentre-backup.service")
    script, *args = shlex.split(backup["ExecStart"][0])
    assert script == f"{DEPLOY}/backup.sh" and (ROOT / "deploy" / "backup.sh").exists()
    assert args[-1] in backup["ReadWritePaths"]
    timer = directives(UNITS / "callcentre-backup.timer")
    assert timer["OnCalendar"] and timer["Persistent"] == ["true"]
