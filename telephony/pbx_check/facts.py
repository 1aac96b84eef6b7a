"""What `callcentre pbx check` gathered from the PBX and this machine, before any judgement.

The probe (`probe.py`) fills these in over AMI; the checks (`checks.py`) only read them, so
each misconfiguration can be tested by building facts by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from telephony.ami.vocabulary import QueueMembership
from telephony.pbx_check.conf_files import Step


@dataclass(frozen=True)
class Refused:
    """Asterisk answered an action with an error: `Permission denied`, `Did not find ...`."""

    action: str
    message: str

    def __str__(self) -> str:
        return f"{self.action}: {self.message}"


@dataclass(frozen=True)
class LiveMember:
    interface: str
    state_interface: str
    membership: QueueMembership | None  # None: a word this version does not know
    ringinuse: bool | None  # None: could not be read


@dataclass(frozen=True)
class LiveQueue:
    name: str
    strategy: str
    members: tuple[LiveMember, ...] = ()
    # The queue's own `ringinuse`, read from a paused probe member added for the purpose.
    ringinuse: bool | Refused | None = None


class TrunkKind(StrEnum):
    PJSIP = "pjsip"  # a PJSIP endpoint: AMI can read its context
    LOCAL = "local"  # a Local channel into a dialplan context: AMI can list it
    OTHER = "other"  # any other technology: nothing to look at over AMI


@dataclass(frozen=True)
class TrunkTarget:
    """Where CC_TRUNK dials, as far as AMI can look: a PJSIP endpoint or a Local context."""

    kind: TrunkKind
    name: str  # endpoint or context; the technology for OTHER


@dataclass(frozen=True)
class TrunkFacts:
    target: TrunkTarget
    exists: bool | Refused | None  # None: this technology cannot be looked at over AMI
    detail: str = ""  # e.g. the endpoint's inbound context


@dataclass(frozen=True)
class DirectoryFacts:
    path: Path
    exists: bool
    is_dir: bool
    readable: bool


@dataclass(frozen=True)
class SelfTestFacts:
    """The recording self-test call (contract.CONTEXT_SELFTEST)."""

    originate: str | Refused  # OriginateResponse's Response and Reason, or the refusal
    pbx_path: str  # where Asterisk recorded (MIXMONITOR_FILENAME, or CC_MONITOR_DIR/<name>)
    local_path: Path | None  # where the server found it; None: not found
    problem: str = ""  # why it was not found (refused path, missing, fetch failed)
    waited: float = 0.0  # seconds the check waited for the file


@dataclass
class PbxFacts:
    user: str  # the AMI user (manager.conf section)
    core: dict[str, str] | Refused
    commands: dict[str, frozenset[str]] | Refused  # ListCommands: action → its classes
    events: list[tuple[str, frozenset[str]]]  # every event received: (name, Privilege classes)
    exercised: dict[str, str]  # read class → what the check did that emits an event of it
    globals: dict[str, str | Refused]
    dialplan: dict[str, dict[str, list[Step]] | Refused]
    queues: dict[str, LiveQueue | Refused | None]  # None: no such queue
    trunk: TrunkFacts | None
    recordings_dir: DirectoryFacts
    selftest: SelfTestFacts | None  # None: not run (`--no-call`, or it could not be placed)
    selftest_skipped: str = ""  # why it was not run
    notes: list[str] = field(default_factory=list)
