"""The lab's Asterisk: its runtime directory made from asterisk-conf/, started and stopped as
the current user (no root, no system path), commanded through its own CLI socket."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.lab.render import (
    SHIPPED,
    SHIPPED_FILES,
    lab_secrets,
    lab_values,
    monitor_dir,
    render_shipped,
)
from tests.lab.scaffold import moh_dir, scaffold_files, write_hold_music
from tests.lab.settings import LabSettings

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the CLI colours its output
DIRECTORIES = ("etc", "varlib", "db", "keys", "agi-bin", "spool", "run", "log")


class LabError(RuntimeError):
    """The lab's Asterisk did not do what was asked (the message says where to look)."""


class LabPbx:
    def __init__(self, settings: LabSettings) -> None:
        if settings.asterisk is None:
            raise LabError("no Asterisk prefix configured (CALLCENTRE_LAB_ASTERISK)")
        self.settings = settings
        self.prefix = settings.asterisk
        self.directory = settings.directory
        self.config = self.directory / "etc" / "asterisk.conf"
        self.binary = self.prefix / "sbin" / "asterisk"
        self.secrets = lab_secrets(self.directory)
        self.values = lab_values(settings, self.secrets)

    # -- configuration -----------------------------------------------------------------

    @property
    def monitor_dir(self) -> Path:
        return monitor_dir(self.settings)

    @property
    def log_file(self) -> Path:
        return self.directory / "log" / "messages.log"

    def prepare(self) -> None:
        """(Re)write the runtime directory's configuration from asterisk-conf/ as it is now."""
        for name in DIRECTORIES:
            (self.directory / name).mkdir(parents=True, exist_ok=True)
        self.monitor_dir.mkdir(parents=True, exist_ok=True)
        etc = self.directory / "etc"
        for name in SHIPPED_FILES:
            text = (SHIPPED / name).read_text()
            (etc / name).write_text(render_shipped(name, text, self.values))
        for name, text in scaffold_files(self.settings).items():
            (etc / name).write_text(text)
        write_hold_music(moh_dir(self.settings) / "tone.wav")

    # -- process -----------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LD_LIBRARY_PATH"] = ":".join(
            p for p in (str(self.prefix / "lib"), env.get("LD_LIBRARY_PATH", "")) if p
        )
        return env

    def pid(self) -> int | None:
        try:
            pid = int((self.directory / "run" / "asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def running(self) -> bool:
        return self.pid() is not None and self.rx("core show uptime", check=False) is not None

    def rx(self, command: str, *, check: bool = True, timeout: float = 20) -> str | None:
        """Run a CLI command on the running Asterisk; None (or LabError) if it cannot."""
        result = subprocess.run(
            [str(self.binary), "-C", str(self.config), "-rx", command],
            capture_output=True,
            check=False,
            text=True,
            timeout=timeout,
            env=self._env(),
        )
        if result.returncode != 0 or "Unable to connect" in result.stdout + result.stderr:
            if check:
                raise LabError(f"`{command}` failed: {result.stdout}{result.stderr}".strip())
            return None
        return _ANSI.sub("", result.stdout)

    def start(self, *, timeout: float = 30) -> None:
        """Start Asterisk in the background and wait until it is fully booted."""
        if self.running():
            raise LabError(f"an Asterisk already runs in {self.directory}; stop it first")
        self.prepare()
        console = (self.directory / "log" / "console.out").open("ab")
        subprocess.Popen(
            [str(self.binary), "-f", "-C", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=self._env(),
            start_new_session=True,  # survives `python -m tests.lab start`
        )
        console.close()
        self.wait_booted(timeout=timeout)

    def wait_booted(self, *, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.rx("core waitfullybooted", check=False, timeout=timeout)
            if out is not None and "fully booted" in out.lower():
                return
            time.sleep(0.2)
        raise LabError(f"Asterisk did not boot in {timeout:.0f} s; see {self.log_file}")

    def restart_now(self, *, timeout: float = 30) -> None:
        """`core restart now`: every call is cut, the process re-executes itself."""
        self.rx("core restart now", check=False)
        time.sleep(1.0)
        self.wait_booted(timeout=timeout)

    def stop(self, *, timeout: float = 15) -> None:
        pid = self.pid()
        if pid is None:
            return
        self.rx("core stop now", check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.1)
        if self.pid() is not None:  # our own Asterisk, by its pid file
            os.kill(pid, signal.SIGTERM)
            time.sleep(1.0)
        if self.pid() is not None:
            raise LabError(f"Asterisk (pid {pid}) did not stop")
