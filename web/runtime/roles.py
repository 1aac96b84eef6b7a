"""The roles one `callcentre serve` process can play, alone or together."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class ProcessRole(StrEnum):
    BRIDGE = "bridge"  # one per Asterisk: AMI, call records, attempt outcomes, agent sync
    WEB = "web"  # HTTP and websockets; any number behind a load balancer
    WORKER = "worker"  # transcription; any number, on any machine
    DIALER = "dialer"  # campaigns; one active, the others stand by


ALL_ROLES = frozenset(ProcessRole)


def parse_roles(values: Iterable[str]) -> frozenset[ProcessRole]:
    """`("bridge,web", "worker")` → the roles; empty means all of them (one process)."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    known = {role.value for role in ProcessRole}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"unknown role {unknown[0]!r}: choose from {', '.join(r.value for r in ProcessRole)}"
        )
    return frozenset(ProcessRole(name) for name in names) or ALL_ROLES
