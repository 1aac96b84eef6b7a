"""Replaying raw AMI captures through the tracker (`callcentre ami replay`)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from telephony.ami.framing import read_capture
from telephony.channels import AgentDirectory
from telephony.events import CallRecord
from telephony.tracker import CallTracker

# Captures carry no timestamps (timestampevents=no): messages are spaced a millisecond apart.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def replay(paths: Iterable[Path], agents: AgentDirectory | None = None) -> list[CallRecord]:
    """Every call in the captures, finished or not, in the order each call began."""
    # Every call, however long the captures: the whole of each is kept to the end.
    tracker = CallTracker(agents, recent_window=None, recent_limit=sys.maxsize)
    at = _EPOCH
    for path in paths:
        for message in read_capture(Path(path).read_bytes()):
            at += timedelta(milliseconds=1)
            if "Event" in message:
                tracker.feed(message, at)
    calls = tracker.recent_calls() + tracker.live_calls()
    return sorted(calls, key=lambda record: record.started_at)
