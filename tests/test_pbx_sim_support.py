"""Helpers for the PBX simulator's tests: a tiny raw AMI client and the captures' shapes.

The client frames and parses bytes itself (not with the simulator's `wire` module), so the
tests check the simulator's bytes against an independent reading of the protocol.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm.clock import SystemClock
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from tests.conftest import FIXTURES

# Header values that differ from run to run (clock, session, TCP ports).
VOLATILE = frozenset({
    "EventTV", "SessionTV", "SessionID", "LocalAddress", "RemoteAddress", "Uptime", "LastReload",
    "Timestamp",
})  # fmt: skip


@dataclass
class Msg:
    """One AMI message as received: its exact bytes and its headers in order."""

    raw: bytes
    fields: list[tuple[str, str]]

    @classmethod
    def parse(cls, raw: bytes) -> Msg:
        fields = []
        for line in raw.decode().split("\r\n"):
            if line:
                name, _, value = line.partition(": ")
                fields.append((name, value))
        return cls(raw, fields)

    @property
    def kind(self) -> str:
        return self.fields[0][0] if self.fields else ""

    @property
    def name(self) -> str:
        return self.fields[0][1] if self.fields else ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    def get(self, key: str, default: str = "") -> str:
        return next((value for name, value in self.fields if name == key), default)

    def __getitem__(self, key: str) -> str:
        for name, value in self.fields:
            if name == key:
                return value
        raise KeyError(key)

    def is_event(self, name: str | None = None, **headers: str) -> bool:
        return (
            self.kind == "Event"
            and (name is None or self.name == name)
            and all(self.get(key) == value for key, value in headers.items())
        )

    def normalised(self) -> list[tuple[str, str]]:
        return [(name, "*" if name in VOLATILE else value) for name, value in self.fields]


def split_raw(data: bytes) -> list[bytes]:
    """Messages of a byte stream, each with its `\\r\\n\\r\\n`, banner line dropped."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.split(b"\r\n", 1)[1]
    return [part + b"\r\n\r\n" for part in data.split(b"\r\n\r\n") if part]


def capture(name: str) -> list[Msg]:
    return [Msg.parse(raw) for raw in split_raw((FIXTURES / f"{name}.txt").read_bytes())]


# Transcripts of the project's Asterisk lab (PJSIP phones and trunk, tests/data/lab_ami).
LAB_AMI = Path(__file__).parent / "data" / "lab_ami"


def lab_transcript(name: str) -> list[Msg]:
    return [Msg.parse(raw) for raw in split_raw((LAB_AMI / f"{name}.txt").read_bytes())]


def sent_bytes(name: str) -> bytes:
    return (FIXTURES / f"{name}.sent.txt").read_bytes()


class RawAmi:
    """A bare AMI client over TCP: send actions, read messages, keep everything received."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.banner = b""
        self.log: list[Msg] = []
        self._ids = itertools.count(1)

    @classmethod
    async def connect(
        cls, address: tuple[str, int], *, login: bool = True, secret: str = "callcentre"
    ) -> RawAmi:
        reader, writer = await asyncio.open_connection(*address)
        ami = cls(reader, writer)
        await ami.read_banner()
        if login:
            answer = await ami.action("Login", Username="callcentre", Secret=secret)
            assert answer.get("Response") == "Success", answer.fields
            await ami.wait_event(lambda m: m.is_event("SuccessfulAuth"))
        return ami

    async def _fill(self, timeout: float) -> None:
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        if not data:
            raise EOFError("the server closed the connection")
        self.buffer += data

    async def read_banner(self, timeout: float = 5.0) -> bytes:
        while b"\r\n" not in self.buffer:
            await self._fill(timeout)
        end = self.buffer.index(b"\r\n") + 2
        self.banner, self.buffer = self.buffer[:end], self.buffer[end:]
        return self.banner

    async def next_message(self, timeout: float = 5.0) -> Msg:
        while b"\r\n\r\n" not in self.buffer:
            await self._fill(timeout)
        end = self.buffer.index(b"\r\n\r\n") + 4
        raw, self.buffer = self.buffer[:end], self.buffer[end:]
        message = Msg.parse(raw)
        self.log.append(message)
        return message

    def send(self, action: str, **headers: str | list[str]) -> str:
        action_id = str(headers.pop("ActionID", f"t-{next(self._ids)}"))
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for name, value in headers.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{name}: {item}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        return action_id

    async def response(self, action_id: str, timeout: float = 5.0) -> Msg:
        for message in self.log:
            if message.kind == "Response" and message.get("ActionID") == action_id:
                return message
        while True:
            message = await self.next_message(timeout)
            if message.kind == "Response" and message.get("ActionID") == action_id:
                return message

    async def action(self, action: str, timeout: float = 5.0, **headers: str | list[str]) -> Msg:
        return await self.response(self.send(action, **headers), timeout)

    async def list_action(self, action: str, **headers: str) -> tuple[Msg, list[Msg]]:
        """The response and the list's events up to the `...Complete` one (included)."""
        action_id = self.send(action, **headers)
        answer = await self.response(action_id)
        items: list[Msg] = []
        while True:
            message = await self.next_message()
            if message.kind == "Event" and message.get("ActionID") == action_id:
                items.append(message)
                if message.get("EventList") == "Complete":
                    return answer, items

    async def wait_event(
        self, predicate: Callable[[Msg], bool], timeout: float = 10.0, since: int = 0
    ) -> Msg:
        for message in self.log[since:]:
            if message.kind == "Event" and predicate(message):
                return message
        async with asyncio.timeout(timeout):
            while True:
                message = await self.next_message(timeout)
                if message.kind == "Event" and predicate(message):
                    return message

    async def wait_for(self, name: str, timeout: float = 10.0, **headers: str) -> Msg:
        """The first event of this name that carries these headers (logged already, or next)."""
        return await self.wait_event(lambda m: m.is_event(name, **headers), timeout)

    async def drain_for(self, seconds: float) -> None:
        """Read whatever arrives during `seconds`."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            try:
                await self.next_message(left)
            except TimeoutError:
                return

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            while True:
                await self._fill(timeout)
        except (EOFError, ConnectionError):
            return True
        except TimeoutError:
            return False

    def events(self, name: str | None = None, **headers: str) -> list[Msg]:
        return [m for m in self.log if m.is_event(name, **headers)]

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def running(tmp_path: Path, **overrides: Any) -> AsyncIterator[PbxSimulator]:
    """A started simulator, 20 times faster than real time, recording under `tmp_path`."""
    options: dict[str, Any] = {"port": 0, "time_scale": 0.05, "recordings_dir": tmp_path / "rec"}
    options.update(overrides)
    simulator = PbxSimulator(SimulatorConfig(**options), clock=SystemClock())
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def address(simulator: PbxSimulator) -> tuple[str, int]:
    assert simulator.address is not None
    return simulator.address


def field_sets(messages: Iterable[Msg]) -> dict[str, set[tuple[str, ...]]]:
    """For each event type, the distinct header lists (names, in order) it came with."""
    shapes: dict[str, set[tuple[str, ...]]] = {}
    for message in messages:
        if message.kind == "Event":
            shapes.setdefault(message.name, set()).add(message.keys)
    return shapes


def calls_of(messages: Iterable[Msg], linkedid: str) -> list[Msg]:
    """The events of one call: those whose channel (or destination) has this linkedid."""
    return [
        m
        for m in messages
        if m.kind == "Event" and linkedid in (m.get("Linkedid"), m.get("DestLinkedid"))
    ]
