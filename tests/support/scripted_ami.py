"""A scripted AMI peer for client tests: answers actions from the fixture captures, and can
misbehave on cue (close after login, fall silent, send garbage)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Reply = Callable[[dict[str, str]], bytes | None]


def frame(**headers: str) -> bytes:
    return "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"


def parse_action(text: str) -> dict[str, str]:
    action: dict[str, str] = {}
    for line in text.split("\r\n"):
        key, sep, value = line.partition(": ")
        if sep:
            action.setdefault(key, value)
    return action


@dataclass
class ScriptedAmi:
    secret: str = "test"
    silent_after_login: bool = False
    close_after_login: bool = False
    replies: dict[str, Reply] = field(default_factory=dict)
    # Answers to the first logins, in turn, whatever the secret (e.g. a capture's refusal).
    login_refusals: list[dict[str, str]] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = field(default=0, init=False)  # where it listens, once started

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.server.close()
        await self.server.wait_closed()

    def broadcast(self, data: bytes) -> None:
        for writer in self.writers:
            if not writer.is_closing():
                writer.write(data)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        writer.write(BANNER)
        silent = False
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                action = parse_action(raw.decode())
                self.received.append(action)
                if silent:
                    continue
                name, action_id = action.get("Action", ""), action.get("ActionID", "")
                if name == "Login" and self.login_refusals:
                    refusal = {**self.login_refusals.pop(0), "ActionID": action_id}
                    writer.write(frame(**refusal))
                elif name == "Login":
                    if action.get("Secret") != self.secret:
                        writer.write(
                            frame(
                                Response="Error",
                                ActionID=action_id,
                                Message="Authentication failed",
                            )
                        )
                        await writer.drain()
                        writer.close()
                        return
                    writer.write(
                        frame(
                            Response="Success",
                            ActionID=action_id,
                            Message="Authentication accepted",
                        )
                    )
                    writer.write(
                        frame(
                            Event="FullyBooted",
                            Privilege="system,all",
                            Uptime="4",
                            LastReload="4",
                            Status="Fully Booted",
                        )
                    )
                    if self.close_after_login:
                        await writer.drain()
                        writer.close()
                        return
                    silent = self.silent_after_login
                elif name == "Ping":
                    writer.write(
                        frame(
                            Response="Success",
                            ActionID=action_id,
                            Ping="Pong",
                            Timestamp="1795438124.906092",
                        )
                    )
                elif name == "Logoff":
                    writer.write(
                        frame(
                            Response="Goodbye",
                            ActionID=action_id,
                            Message="Thanks for all the fish.",
                        )
                    )
                    await writer.drain()
                    writer.close()
                    return
                elif name in self.replies:
                    data = self.replies[name](action)
                    if data:
                        writer.write(data)
                else:
                    writer.write(
                        frame(
                            Response="Error",
                            ActionID=action_id,
                            Message=f"Invalid/unknown command: {name}. Use Action: ListCommands "
                            "to show available commands.",
                        )
                    )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()
