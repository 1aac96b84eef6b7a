"""A replayable AMI byte stream of many realistic calls, made from the real captures.

Each call is a copy of one captured scenario (inbound queue call answered, agent-first
callback bridged, callback to a busy number) with its own uniqueids, channel instances,
bridge ids, ActionIDs and customer number, and `concurrency` calls are interleaved event by
event, as a busy PBX sends them.
"""

from __future__ import annotations

import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from bench.common import FIXTURES
from telephony.pbx_sim.replay import capture_events

# Share of each shape in the generated traffic (inbound dominates a service hotline).
SHAPES = (
    ("inbound_queue_answered", 6),
    ("outbound_callback_dial_bridged", 3),
    ("callback_busy", 1),
)
_UNIQUEID = re.compile(rb"\b\d{10}\.(\d+)\b")
_INSTANCE = re.compile(rb"-0000000([0-9a-f]);([12])")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ACTION_ID = re.compile(rb"^ActionID: (.*)$", re.MULTILINE)
_NUMBERS = (b"13800138000", b"13900139000", b"13700137000")


@dataclass(frozen=True)
class Stream:
    data: bytes
    events: int
    calls: int


def _templates(fixtures: Path) -> list[list[bytes]]:
    weighted = []
    for name, weight in SHAPES:
        events = capture_events(fixtures / f"{name}.txt")
        weighted.extend([events] * weight)
    return weighted


def _copy(events: list[bytes], index: int, number: bytes, rng: random.Random) -> list[bytes]:
    epoch = str(1_800_000_000 + index).encode()
    bridge: dict[bytes, bytes] = {}

    def new_uuid(match: re.Match[bytes]) -> bytes:
        return bridge.setdefault(match.group(0), str(uuid.UUID(int=rng.getrandbits(128))).encode())

    out = []
    for captured_event in events:
        raw = _UNIQUEID.sub(lambda m: epoch + b"." + m.group(1), captured_event)
        raw = _INSTANCE.sub(lambda m: b"-%07x%s;%s" % (index, m.group(1), m.group(2)), raw)
        raw = _UUID.sub(new_uuid, raw)
        raw = _ACTION_ID.sub(lambda m: b"ActionID: " + m.group(1) + b"-" + epoch, raw)
        for captured in _NUMBERS:
            raw = raw.replace(captured, number)
        out.append(raw)
    return out


def build_stream(
    calls: int,
    *,
    numbers: list[str],
    concurrency: int = 40,
    seed: int = 11,
    fixtures: Path = FIXTURES,
) -> Stream:
    """`calls` calls drawn from the captures' shapes, callers drawn from `numbers`."""
    rng = random.Random(seed)
    templates = _templates(fixtures)
    pending = [
        _copy(rng.choice(templates), i, rng.choice(numbers).encode(), rng) for i in range(calls)
    ]
    pending.reverse()
    active: list[list[bytes]] = []
    chunks: list[bytes] = []
    while pending or active:
        while pending and len(active) < concurrency:
            active.append(pending.pop())
        call = active[rng.randrange(len(active))]
        chunks.append(call.pop(0))
        if not call:
            active.remove(call)
    return Stream(b"".join(chunks), len(chunks), calls)
