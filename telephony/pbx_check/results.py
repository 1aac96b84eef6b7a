"""One line of `callcentre pbx check`: what was checked, how it went, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 2


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"  # worth a look, not a reason to fail a script
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    check: str  # stable id for scripts: "ami.write", "dialplan.from-trunk", "queue.service"
    status: Status
    found: str  # what the PBX (or this machine) showed
    fix: str = ""  # the concrete change: a config line, an `asterisk -rx` command

    def as_json(self) -> dict[str, str]:
        return {
            "check": self.check,
            "status": self.status.value,
            "found": self.found,
            "fix": self.fix,
        }


def ok(check: str, found: str) -> CheckResult:
    return CheckResult(check, Status.OK, found)


def warn(check: str, found: str, fix: str = "") -> CheckResult:
    return CheckResult(check, Status.WARN, found, fix)


def fail(check: str, found: str, fix: str) -> CheckResult:
    return CheckResult(check, Status.FAIL, found, fix)


def exit_status(results: Iterable[CheckResult]) -> int:
    """0 when nothing failed (warnings do not fail), 1 otherwise."""
    return EXIT_FAILED if any(r.status is Status.FAIL for r in results) else EXIT_OK
