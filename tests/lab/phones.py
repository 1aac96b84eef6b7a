"""SIP phones of the lab: Debian's baresip, one process per party, driven over its ctrl_tcp
JSON interface. Agents register with Asterisk as 1001/1002; customers sit behind the
"carrier" address and either call the PBX's trunk or are called through it.

Each phone speaks a WAV (`audio_source aufile`) and hangs up when the WAV ends (baresip
closes a call whose audio source is exhausted), so a script's length is its call's length.
`sndfile` writes what each phone sent (`*-enc.wav`) and heard (`*-dec.wav`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BARESIP = "baresip"
MODULES = "/usr/lib/baresip/modules"


class PhoneError(RuntimeError):
    """A phone did not start, register or obey in time (its log says why)."""


@dataclass(frozen=True, slots=True)
class Account:
    """One SIP identity of a phone (baresip's accounts file line)."""

    user: str
    domain: str  # registrar (agents) or the phone's own address (customers)
    password: str | None = None  # set: register with the PBX
    answer: str = "manual"  # manual | auto

    def line(self, audio: Path) -> str:
        params = [f"answermode={self.answer}", f"audio_source=aufile,{audio}"]
        if self.password is None:
            params.append("regint=0")
        else:
            params += [f"auth_pass={self.password}", "regint=300"]
        return f"<sip:{self.user}@{self.domain}>;" + ";".join(params)

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"


@dataclass
class Phone:
    name: str
    account: Account
    address: str
    sip_port: int
    control_port: int
    rtp_ports: tuple[int, int]
    directory: Path
    audio: Path
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    _process: subprocess.Popen[bytes] | None = None
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _listener: asyncio.Task[None] | None = None
    _responses: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    # -- files ------------------------------------------------------------------------

    @property
    def heard_dir(self) -> Path:
        return self.directory / "heard"

    @property
    def log(self) -> Path:
        return self.directory / "baresip.log"

    def _write_config(self) -> None:
        self.heard_dir.mkdir(parents=True, exist_ok=True)
        low, high = self.rtp_ports
        config = f"""poll_method epoll
sip_listen {self.address}:{self.sip_port}
call_local_timeout 120
call_max_calls 4
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,{self.audio}
rtp_ports {low}-{high}
rtp_timeout 0
net_interface {self.address}
module_path {MODULES}
module g711.so
module aufile.so
module alsa.so
module sndfile.so
module_app account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{self.control_port}
snd_path {self.heard_dir}
"""
        (self.directory / "config").write_text(config)
        (self.directory / "accounts").write_text(self.account.line(self.audio) + "\n")
        (self.directory / "contacts").write_text("")

    # -- process ----------------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.directory / "baresip.pid"

    def _stop_leftover(self) -> None:
        """A phone of an interrupted run still holding this phone's ports: our own process,
        known by its pid file and its command line naming this directory."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.directory).encode() in cmdline:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    async def start(self, *, timeout: float = 10) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        self._write_config()
        log = self.log.open("ab")
        self._process = subprocess.Popen(
            [shutil.which(BARESIP) or BARESIP, "-f", str(self.directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.pid_file.write_text(str(self._process.pid))
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.control_port
                )
                break
            except OSError as exc:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise PhoneError(f"{self.name}: baresip did not start; see {self.log}") from exc
                await asyncio.sleep(0.1)
        self._listener = asyncio.create_task(self._listen(), name=f"phone-{self.name}")
        if self.account.password is not None:
            await self.wait_registered(timeout=timeout)

    async def wait_registered(self, *, timeout: float = 10) -> None:
        """baresip may register before ctrl_tcp is connected: ask it (`reginfo`)."""
        deadline = time.monotonic() + timeout
        while "OK" not in (await self.command("reginfo")):
            if time.monotonic() > deadline:
                raise PhoneError(f"{self.name}: not registered in {timeout} s; see {self.log}")
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # baresip hangs up its calls and exits
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)

    # -- ctrl_tcp ---------------------------------------------------------------------

    async def _listen(self) -> None:
        assert self._reader is not None
        while True:
            length = await self._reader.readuntil(b":")
            payload = await self._reader.readexactly(int(length[:-1]))
            await self._reader.readexactly(1)  # the netstring's trailing comma
            message = json.loads(payload)
            if message.get("response"):
                self._responses.put_nowait(message)
            else:
                self.events.append((time.monotonic(), message))

    async def command(self, command: str, params: str = "") -> str:
        """Run a baresip command; its printed answer, or PhoneError if it failed."""
        assert self._writer is not None
        async with self._lock:
            body = json.dumps({"command": command, "params": params, "token": command}).encode()
            self._writer.write(b"%d:%s," % (len(body), body))
            await self._writer.drain()
            response = await asyncio.wait_for(self._responses.get(), timeout=5)
        if not response.get("ok"):
            raise PhoneError(f"{self.name}: `{command} {params}` failed: {response.get('data')}")
        return str(response.get("data", ""))

    def seen(self, kind: str, since: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
        return [(t, e) for t, e in self.events if e.get("type") == kind and t >= since]

    async def wait_event(
        self, kind: str, *, timeout: float = 15, since: float = 0.0
    ) -> tuple[float, dict[str, Any]]:
        """The first event of this type (at or after `since`, monotonic), waiting for it."""
        deadline = time.monotonic() + timeout
        while not (found := self.seen(kind, since)):
            if time.monotonic() > deadline:
                types = [e.get("type") for _, e in self.events]
                raise PhoneError(f"{self.name}: no {kind} in {timeout} s (saw {types})")
            if self._process is not None and self._process.poll() is not None:
                raise PhoneError(f"{self.name}: baresip exited; see {self.log}")
            await asyncio.sleep(0.02)
        return found[0]

    # -- what a person does with the phone --------------------------------------------

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def accept(self) -> float:
        """Answer the ringing call; the moment (monotonic) the answer was sent."""
        await self.command("accept")
        return time.monotonic()

    async def hangup(self) -> None:
        """Hang up the call (an unanswered incoming call is refused with 486 Busy)."""
        await self.command("hangup")

    async def transfer(self, target: str) -> None:
        """Blind transfer (SIP REFER) of the current call to `target` (e.g. an extension)."""
        await self.command("transfer", target)

    async def hold(self) -> None:
        await self.command("hold")

    async def resume(self) -> None:
        await self.command("resume")

    def heard(self) -> list[Path]:
        """The WAVs of what this phone heard, oldest first."""
        return sorted(self.heard_dir.glob("dump-*-dec.wav"))

    def sent(self) -> list[Path]:
        return sorted(self.heard_dir.glob("dump-*-enc.wav"))
