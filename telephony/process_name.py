"""How a process names itself to the others (Redis consumers, leases, the dialer board)."""

from __future__ import annotations

import os
import socket


def process_name() -> str:
    """`host:pid`: unique among the live processes of a deployment, and readable in logs."""
    return f"{socket.gethostname()}:{os.getpid()}"
