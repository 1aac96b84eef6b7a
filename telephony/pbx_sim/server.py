"""The simulator's AMI server: TCP sessions, event broadcast, fault injection and its Python API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crm.clock import Clock
from telephony.pbx_sim import actions
from telephony.pbx_sim.admin_actions import delivered
from telephony.pbx_sim.calls import start_inbound_call
from telephony.pbx_sim.channels import event, parse_caller_id
from telephony.pbx_sim.config import SimulatorConfig
from telephony.pbx_sim.originate import OriginateOutcome, OriginateRequest, start_originate
from telephony.pbx_sim.pbx import Pbx
from telephony.pbx_sim.queues import extension_of
from telephony.pbx_sim.recordings import warm_voices
from telephony.pbx_sim.replay import capture_events
from telephony.pbx_sim.scenario import make_plan
from telephony.pbx_sim.shutdown import core_stop
from telephony.pbx_sim.traffic import generate_traffic
from telephony.pbx_sim.transfer import blind_transfer
from telephony.pbx_sim.wire import BANNER, ActionReader, Fields, Message, encode

log = logging.getLogger(__name__)
RECEIVED_KEPT = 2000


def _event_tv(epoch: float) -> str:
    """`2026-11-23T12:48:44.905+0000`, as security events stamp themselves."""
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class AmiSession:
    """One client connection: login state, and the bytes going out to it."""

    def __init__(
        self, simulator: PbxSimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.simulator = simulator
        self.reader, self.writer = reader, writer
        self.authenticated = False
        self.events = True
        self.session_id = f"0x{secrets.randbits(44) | 0x7F0000000000:x}"
        self.started = simulator.pbx.clock.now()
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        remote = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.local_address = f"IPV4/TCP/{local[0]}/{local[1]}"
        self.remote_address = f"IPV4/TCP/{remote[0]}/{remote[1]}"

    def send(self, data: bytes, *, force: bool = False) -> None:
        """Queue bytes for the client; nothing leaves a silent PBX unless `force`."""
        if (force or not self.simulator.silent) and not self.writer.is_closing():
            self.writer.write(data)

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def _security_head(self, severity: str) -> Fields:
        now = _event_tv(self.simulator.pbx.clock.now())
        return [("EventTV", now), ("Severity", severity), ("Service", "AMI"), ("EventVersion", "1")]

    def _identity(self) -> Fields:
        return [
            ("SessionID", self.session_id),
            ("LocalAddress", self.local_address),
            ("RemoteAddress", self.remote_address),
        ]

    def successful_auth(self) -> Fields:
        """The security event of a login, with the fields in the captures' order."""
        return event(
            "SuccessfulAuth",
            self._security_head("Informational"),
            [("AccountID", self.simulator.config.user)],
            self._identity(),
            [("UsingPassword", "0"), ("SessionTV", _event_tv(self.started))],
        )

    def request_bad_format(self, action: str) -> Fields:
        """The security event that follows an unknown action."""
        return event(
            "RequestBadFormat",
            self._security_head("Error"),
            self._identity(),
            [("RequestType", f"Action: {action}"), ("SessionTV", _event_tv(self.started))],
            [("AccountID", self.simulator.config.user)],
        )

    async def run(self) -> None:
        reader = ActionReader()
        try:
            await self.simulator.wait_audible()
            self.send(BANNER)
            while True:
                data = await self.reader.read(65536)
                if not data:
                    return
                for message in reader.feed(data):
                    self.simulator.received.append(message)
                    if not await actions.handle(self, message):
                        await self.drain()
                        return
        except OSError:  # reset by the client, or aborted by drop_connections()
            return
        finally:
            self.simulator.sessions.discard(self)
            self.writer.close()


class PbxSimulator:
    """A pretend Asterisk 22 on an AMI port: calls, queues, recordings and faults on demand."""

    def __init__(self, config: SimulatorConfig | None = None, *, clock: Clock) -> None:
        self.config = config or SimulatorConfig()
        self.pbx = Pbx(self.config, self._emit, clock)
        self.sessions: set[AmiSession] = set()
        # The actions clients sent, newest last (a bounded log): what a test checks was asked.
        self.received: deque[Message] = deque(maxlen=RECEIVED_KEPT)
        self.replay_on_login: Path | None = None
        self.address: tuple[str, int] | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._traffic: asyncio.Task[None] | None = None
        self._audible = asyncio.Event()
        self._audible.set()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Listen (port 0 picks a free port) and return the real address."""
        await self._listen(self.config.port)
        self._start_traffic()
        assert self.address is not None
        return self.address

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, self.config.host, port)
        host, real_port = self._server.sockets[0].getsockname()[:2]
        self.address = (host, real_port)

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def stop(self) -> None:
        await self._stop_listening()
        self.stop_traffic()
        await self.pbx.shutdown()  # also releases sessions waiting on a synchronous Originate
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self.set_silent(False)
        self.drop_connections()
        # Sessions end by themselves once their sockets are gone; cancelling them instead
        # would make asyncio's stream callback log the cancellation as an error.
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=1.0)
        await self.pbx.recorder.idle()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        await session.run()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def _start_traffic(self) -> None:
        if self.config.calls_per_minute > 0 and self._traffic is None:
            self._traffic = self._spawn(generate_traffic(self.pbx))

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.cancel()
            self._traffic = None

    # -- events ---------------------------------------------------------------------------

    def _emit(self, fields: Fields) -> None:
        self.broadcast(encode(fields))

    def broadcast(self, data: bytes) -> None:
        """Send an event to every logged-in session that asked for events."""
        for session in list(self.sessions):
            if session.authenticated and session.events and delivered(self.config, data):
                session.send(data)

    def on_login(self, session: AmiSession) -> None:
        if self.replay_on_login is not None:
            self._spawn(self.replay_capture(self.replay_on_login, session=session))

    async def replay_capture(self, path: Path, *, session: AmiSession | None = None) -> None:
        """Stream a capture's events, byte for byte, to one session or to every logged-in one."""
        for raw in capture_events(Path(path)):
            if session is None:
                self.broadcast(raw)
            elif session in self.sessions:
                session.send(raw)
            else:
                return
            await asyncio.sleep(self.config.replay_delay)

    # -- fault injection ------------------------------------------------------------------

    @property
    def silent(self) -> bool:
        return not self._audible.is_set()

    async def wait_audible(self) -> None:
        await self._audible.wait()

    def set_silent(self, silent: bool) -> None:
        """Play dead: keep sockets open but answer nothing and send no events, until released."""
        if silent:
            self._audible.clear()
        else:
            self._audible.set()

    def drop_connections(self) -> None:
        """Reset every TCP connection at once, as a crash or a network cut would."""
        for session in list(self.sessions):
            session.writer.transport.abort()
        self.sessions.clear()

    async def close_connections(self) -> None:
        """Send what is queued, then close every AMI connection (the PBX is going away)."""
        for session in list(self.sessions):
            await session.drain()
            session.writer.close()
        self.sessions.clear()

    async def shutdown(
        self, *, gracefully: bool = True, restart: bool = False, downtime: float = 0.0
    ) -> None:
        """`core stop|restart gracefully|now` (telephony/pbx_sim/shutdown.py): calls end (or
        are hung up), `Shutdown`, connections closed; a restart comes back after `downtime`
        real seconds, a stop leaves the port closed."""
        await core_stop(self, gracefully=gracefully, restart=restart)
        await self._stop_listening()
        await self.pbx.restart()
        if not restart:
            self.pbx.shutting_down = True  # stopped for good: nothing is served any more
            return
        await asyncio.sleep(downtime)
        if self.address is not None:
            await self._listen(self.address[1])
        self._start_traffic()

    async def restart(self, downtime: float = 0.0) -> None:
        """`core restart now`: every channel is hung up (SoftHangupRequest, Cause 4), then
        `Shutdown` (Restart: True), connections closed, a fresh PBX (new uniqueid epoch,
        static queue members only); the port stays closed for `downtime` real seconds."""
        await self.shutdown(gracefully=False, restart=True, downtime=downtime)

    async def crash(self, downtime: float = 0.0) -> None:
        """The process dies and is started again: connections reset, calls forgotten without a
        word on the AMI, then the same fresh PBX as a restart."""
        if downtime > 0:
            await self._stop_listening()
        self.drop_connections()
        self.stop_traffic()
        await self.pbx.restart()
        if downtime > 0:
            await asyncio.sleep(downtime)
            if self.address is not None:
                await self._listen(self.address[1])
        self._start_traffic()

    def spawn_restart(self, downtime: float = 0.0, *, crash: bool = False) -> None:
        self._spawn(self.crash(downtime) if crash else self.restart(downtime))

    def spawn_shutdown(self, *, gracefully: bool, restart: bool, downtime: float) -> None:
        self._spawn(self.shutdown(gracefully=gracefully, restart=restart, downtime=downtime))

    # -- calls ----------------------------------------------------------------------------

    async def place_inbound_call(
        self,
        caller: str,
        *,
        queue: str | None = None,
        extension: str | None = None,
        answer_after: float | None = None,
        talk_seconds: float | None = None,
        hangup_by: str | None = None,
        abandon: bool | float | None = None,
    ) -> str:
        """A customer calls the hotline (queue) or an extension directly; returns the linkedid.

        `abandon=True`: nobody answers and the caller hangs up after a few seconds;
        a number: the caller's patience in seconds (members still answer if quicker).
        """
        if self.pbx.shutting_down:
            raise ValueError("Asterisk is shutting down")
        patience: float | None = None
        nobody_answers = abandon is True
        if nobody_answers:
            patience = self.pbx.rng.uniform(3.0, 8.0)
        elif isinstance(abandon, int | float) and not isinstance(abandon, bool):
            patience = float(abandon)
        plan = make_plan(
            self.pbx,
            talk_seconds=talk_seconds,
            hangup_by=hangup_by,
            answer_after=answer_after,
            patience=patience,
            nobody_answers=nobody_answers,
        )
        return start_inbound_call(self.pbx, caller, plan, queue=queue, extension=extension)

    def originate(
        self,
        channel: str,
        *,
        context: str = "",
        exten: str = "",
        priority: int = 1,
        caller_id: str = "",
        variables: dict[str, str] | None = None,
        timeout: float = 30.0,
        action_id: str = "",
        application: str = "",
        data: str = "",
        announce: bool = True,
        talk_seconds: float | None = None,
        hangup_by: str | None = None,
        answer_after: float | None = None,
        channel_id: str = "",
    ) -> asyncio.Future[OriginateOutcome]:
        """Originate as the AMI action does (`announce`: Async, with an OriginateResponse).

        The future resolves with the outcome; the call carries on in the background.
        """
        caller_name, caller_number = parse_caller_id(caller_id)
        request = OriginateRequest(
            channel=channel,
            context=context,
            exten=exten,
            priority=priority,
            caller_number=caller_number,
            caller_name=caller_name,
            variables=list((variables or {}).items()),
            timeout=timeout,
            action_id=action_id,
            application=application,
            app_data=data,
            announce=announce,
            channel_id=channel_id,
        )
        plan = make_plan(
            self.pbx, talk_seconds=talk_seconds, hangup_by=hangup_by, answer_after=answer_after
        )
        return start_originate(self.pbx, request, plan)

    def actions_received(self, name: str) -> list[Message]:
        """The actions named `name` (any case) that clients sent, oldest first."""
        return [m for m in self.received if m.action.lower() == name.lower()]

    def blind_transfer(self, extension: str, target: str) -> None:
        """Agent `extension`'s phone transfers its call blind to `target`, as its SIP REFER
        would (res_pjsip_refer: `target` in the phone's endpoint context, which must have it).
        ValueError when the phone is in no bridged call or the target does not exist."""
        pbx = self.pbx
        phone = next(
            (
                channel
                for channel in pbx.channels
                if channel.bridge is not None
                and not channel.hung_up
                and pbx.is_agent_channel(channel)
                and extension_of(channel.device) == extension
            ),
            None,
        )
        if phone is None:
            raise ValueError(f"Extension {extension} has no call to transfer")
        context = self.config.agent_context
        if pbx.dialplan.find(context, target) is None:  # the REFER gets a 404
            raise ValueError(f"Extension {target} does not exist in {context}")
        blind_transfer(pbx, phone, target, context)

    def set_answer(self, extension: str, after: float | None) -> None:
        """How long `extension`'s phone rings before it answers (None: it never answers)."""
        self.pbx.answer_delays[extension] = after

    async def wait_calls(self) -> None:
        """Wait until every call placed so far has ended."""
        while self.pbx.tasks:
            await asyncio.gather(*list(self.pbx.tasks), return_exceptions=True)

    async def warm_voices(self) -> None:
        """Synthesise every scripted line before the calls (see `recordings.warm_voices`)."""
        await asyncio.to_thread(warm_voices)

    async def wait_recordings(self) -> None:
        """Wait until every recording of the calls that ended so far is on disk."""
        await self.pbx.recorder.idle()


async def run_simulator(
    config: SimulatorConfig, *, clock: Clock, replay: Path | None = None
) -> None:
    """Run the simulator until cancelled (`callcentre pbx-sim`)."""
    simulator = PbxSimulator(config, clock=clock)
    simulator.replay_on_login = replay
    await simulator.warm_voices()
    host, port = await simulator.start()
    log.info("PBX simulator (Asterisk %s over AMI) listening on %s:%d", "22.10.1", host, port)
    if replay is not None:
        log.info("replaying %s to every client that logs in", replay)
    try:
        await asyncio.Event().wait()
    finally:
        await simulator.stop()
