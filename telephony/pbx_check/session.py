"""One short AMI session for the check, on the project's AmiClient: log in once (no retry
loop), send actions, keep every event that arrives, log off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from panoramisk.message import Message

from crm.clock import Clock
from telephony.ami.client import AmiAuthenticationError, AmiClient, AmiEndpoint, AmiError


class CannotConnect(Exception):
    """The PBX could not be reached or refused the login (the message names no secret)."""


class CheckSession:
    def __init__(self, endpoint: AmiEndpoint, *, clock: Clock, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.events: list[Message] = []
        self._ready = asyncio.Event()
        self._client = AmiClient(
            endpoint,
            on_event=self.events.append,
            on_connected=self._connected,
            action_timeout=timeout,
            backoff_min=0.2,
            backoff_max=1.0,
            clock=clock,
        )
        self._run: asyncio.Task[None] | None = None

    async def _connected(self) -> None:
        self._ready.set()

    async def open(self) -> None:
        """Connect and log in within `timeout`; CannotConnect otherwise."""
        self._run = asyncio.get_running_loop().create_task(self._client.run())
        ready = asyncio.ensure_future(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._run}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if self._ready.is_set():
            return
        reason = self._client.last_error or "no answer"
        if self._run in done:
            exc = self._run.exception()
            if isinstance(exc, AmiAuthenticationError):
                reason = str(exc)
        await self.close()
        raise CannotConnect(
            f"cannot log in to the PBX's AMI at {self.endpoint.host}:{self.endpoint.port} as "
            f"{self.endpoint.username!r}: {reason}"
        )

    async def send(self, action: Mapping[str, Any], *, as_list: bool) -> Any:
        return await self._client.send(action, as_list=as_list, timeout=self.timeout)

    async def close(self) -> None:
        await self._client.close()
        if self._run is not None:
            with contextlib.suppress(AmiError, asyncio.CancelledError, OSError, TimeoutError):
                await asyncio.wait_for(self._run, 2.0)
