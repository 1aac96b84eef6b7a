"""Where the Asterisk lab lives and which loopback addresses and ports it uses.

Everything comes from environment variables, so a contributor points the suite at an
Asterisk installed anywhere without editing code:

- `CALLCENTRE_LAB_ASTERISK`: prefix of an installed Asterisk 22 (`sbin/asterisk`,
  `lib/asterisk/modules`); unset: no lab.
- `CALLCENTRE_LAB_DIR`: the lab's own runtime directory (configuration, logs, spool,
  recordings); default `/tmp/callcentre-lab-<uid>`.
- `CALLCENTRE_LAB_PORT_BASE`: first of the lab's loopback ports (see `LabPorts`); default 15000.
- `CALLCENTRE_LAB_CAPTURE_DIR`: when set, every AMI tap of a test writes what it received
  there as an AMI transcript (the shared captures' format): new captures of the live PBX.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PREFIX_VARIABLE = "CALLCENTRE_LAB_ASTERISK"
DIR_VARIABLE = "CALLCENTRE_LAB_DIR"
PORT_BASE_VARIABLE = "CALLCENTRE_LAB_PORT_BASE"
CAPTURE_DIR_VARIABLE = "CALLCENTRE_LAB_CAPTURE_DIR"
VARIABLES = (PREFIX_VARIABLE, DIR_VARIABLE, PORT_BASE_VARIABLE, CAPTURE_DIR_VARIABLE)

PBX_ADDRESS = "127.0.0.1"  # Asterisk, the agents' phones and the server
CARRIER_ADDRESS = "127.0.0.2"  # the "carrier": another loopback address, identified by it
AGENTS = ("1001", "1002")  # the agents of asterisk-conf/pjsip.conf


class LabSettingError(ValueError):
    """A lab variable has a value the lab cannot use."""


@dataclass(frozen=True, slots=True)
class LabPorts:
    """The lab's ports, all on loopback, derived from one base so two labs can coexist."""

    base: int

    @property
    def ami(self) -> int:
        return self.base + 38

    @property
    def sip(self) -> int:
        return self.base + 60

    @property
    def carrier_sip(self) -> int:
        return self.base + 70

    def agent_sip(self, index: int) -> int:
        """baresip also takes the next port, so phones sit 10 apart."""
        return self.base + 80 + 10 * index

    @property
    def rtp(self) -> tuple[int, int]:
        return self.base + 1000, self.base + 1199

    @property
    def phone_rtp(self) -> tuple[int, int]:
        return self.base + 1200, self.base + 1399

    def control(self, index: int) -> int:
        """baresip's ctrl_tcp port of phone `index` (agents first, then the carrier)."""
        return self.base + 200 + index


@dataclass(frozen=True, slots=True)
class LabSettings:
    asterisk: Path | None  # the installed Asterisk's prefix
    directory: Path
    ports: LabPorts

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LabSettings:
        env = os.environ if environ is None else environ
        prefix = env.get(PREFIX_VARIABLE, "").strip()
        directory = env.get(DIR_VARIABLE, "").strip() or f"/tmp/callcentre-lab-{os.getuid()}"
        base_text = env.get(PORT_BASE_VARIABLE, "").strip() or "15000"
        try:
            base = int(base_text)
        except ValueError:
            raise LabSettingError(f"{PORT_BASE_VARIABLE}={base_text!r} is not a number") from None
        if not 1024 <= base <= 60000:
            raise LabSettingError(f"{PORT_BASE_VARIABLE}={base} must be between 1024 and 60000")
        path = Path(directory)
        if not path.is_absolute():
            raise LabSettingError(f"{DIR_VARIABLE}={directory!r} must be an absolute path")
        return cls(Path(prefix) if prefix else None, path, LabPorts(base))

    def as_environ(self) -> dict[str, str]:
        """The same settings as variables (for `python -m tests.lab` and child processes)."""
        env = {DIR_VARIABLE: str(self.directory), PORT_BASE_VARIABLE: str(self.ports.base)}
        if self.asterisk is not None:
            env[PREFIX_VARIABLE] = str(self.asterisk)
        return env
