"""Every AMI event the product's own manager user receives from the lab (same filters as the
bridge), with its arrival time: for reports and for comparing with the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from dataclasses import dataclass, field

from panoramisk.message import Message
from pydantic import SecretStr

from crm.clock import SystemClock
from telephony.ami.client import AmiClient, AmiEndpoint
from telephony.ami.framing import EventFilter

CAPTURE_DIR: str | None = None  # CALLCENTRE_LAB_CAPTURE_DIR, read by the lab's pytest plugin


@dataclass
class AmiTap:
    host: str
    port: int
    user: str
    secret: str
    event_filter: EventFilter | None = None  # None: every event the PBX sends
    events: list[tuple[float, Message]] = field(default_factory=list)
    _client: AmiClient | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._client = AmiClient(
            AmiEndpoint(self.host, self.port, self.user, SecretStr(self.secret)),
            on_event=lambda m: self.events.append((time.monotonic(), m)),
            backoff_min=0.1,
            backoff_max=0.5,
            event_filter=self.event_filter,
            clock=SystemClock(),
        )
        self._task = asyncio.create_task(self._client.run(), name="ami-tap")
        deadline = time.monotonic() + 10
        while not self._client.connected:
            assert time.monotonic() < deadline, "the AMI tap could not log in to the lab"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        self.save()

    def save(self) -> None:
        """With CALLCENTRE_LAB_CAPTURE_DIR set, the events as an AMI transcript (the shared
        captures' format, one file per test): how new captures of the live PBX are made."""
        directory = CAPTURE_DIR
        if not directory:
            return
        test = os.environ.get("PYTEST_CURRENT_TEST", "lab").split(" ")[0]
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", test.rsplit("::", 1)[-1])
        frames = [
            "".join(f"{key}: {value}\r\n" for key, value in message.items() if key != "content")
            for _, message in self.events
        ]
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, f"{name}.txt"), "w", encoding="utf-8") as out:
            out.write("\r\n".join(frames) + "\r\n")

    async def send(self, action: dict[str, str]) -> Message:
        """An action on the tap's own session (QueueAdd, Originate...): its response."""
        assert self._client is not None
        response = await self._client.send(action, as_list=False)
        assert isinstance(response, Message)
        return response

    def of_call(self, linkedid: str) -> list[Message]:
        return [m for _, m in self.events if m.get("Linkedid") == linkedid]

    def named(self, name: str, **headers: str) -> list[tuple[float, Message]]:
        return [
            (t, m)
            for t, m in self.events
            if m.get("Event") == name and all(m.get(k) == v for k, v in headers.items())
        ]
