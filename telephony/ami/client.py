"""One AMI connection that stays up: panoramisk underneath, its pitfalls fenced off.

What this adds to panoramisk 1.4: a failed login is a clear error and never a reconnect loop;
a watchdog (Ping with a deadline) replaces its deadline-less pinger; reconnects back off
exponentially with jitter; every action has a timeout and an explicit `as_list`; actions
pending when the socket drops fail instead of being silently re-sent on the next connection
(which would re-dial an Originate); a malformed frame is skipped, counted by kind and logged
in one line, a few a minute at most (telephony/ami/bad_frames.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from pydantic import SecretStr

from crm.clock import Clock
from telephony.ami.bad_frames import BadFrame, BadFrames, excerpt
from telephony.ami.framing import MAX_FRAME_CHARS, EventFilter, FrameDecoder, parse_frame

log = logging.getLogger(__name__)

EventCallback = Callable[[Message], None]
ListCallback = Callable[[list[Message]], None]


class AmiError(Exception):
    pass


class AmiAuthenticationError(AmiError):
    """The PBX refused our credentials: retrying would only lock the account or spam logs."""


class AmiConnectionError(AmiError):
    pass


class AmiLoginRefused(AmiConnectionError):
    """The PBX refused the login for another reason than the credentials (Asterisk shutting
    down, an ACL, too many sessions): a moment later it may accept, so it is retried."""


# The one answer that means the credentials themselves are wrong (main/manager.c, Asterisk 22).
AUTHENTICATION_FAILED = "Authentication failed"


class AmiActionTimeout(AmiError):
    pass


class AmiActionFailed(AmiError):
    def __init__(self, action: str, response: Message) -> None:
        self.response = response
        super().__init__(f"{action} failed: {response.get('Message') or response.get('Response')}")


@dataclass(frozen=True, slots=True)
class AmiEndpoint:
    host: str
    port: int
    username: str
    secret: SecretStr

    def __str__(self) -> str:
        return f"{self.username}@{self.host}:{self.port}"


class _Action(Action):
    """An action that knows when it is complete, instead of panoramisk's guesses.

    A single action completes on its first response. A list action completes on an error
    response or on the event that closes the list; `on_complete` then runs synchronously,
    inside the read loop, so a list result takes its exact place among the events.
    """

    def __init__(
        self, data: Mapping[str, Any], *, as_list: bool, on_complete: ListCallback | None = None
    ) -> None:
        super().__init__(dict(data), as_list=as_list)
        self.on_complete = on_complete

    def add_message(self, message: Message) -> bool:
        if self.future.done():
            return True
        self.responses.append(message)
        first = self.responses[0]
        if not self.as_list:
            self.future.set_result(first)
            return True
        failed = first.get("Response") in ("Error", "Failure")
        closed = len(self.responses) > 1 and (
            str(message.get("EventList", "")).lower() == "complete"
            or str(message.get("Event", "")).endswith("Complete")
        )
        if not (failed or closed):
            return False
        result = list(self.responses)
        self.future.set_result(result)
        if self.on_complete is not None:
            self.on_complete(result)
        return True


class _Protocol(AMIProtocol):
    """panoramisk's protocol reading frames with our decoder, and tolerant of bad frames.
    Its factory (the client's `_Manager`) counts them, across the client's connections."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.decoder = FrameDecoder()

    @property
    def bad_frames(self) -> BadFrames:
        frames: BadFrames = self.factory.bad_frames
        return frames

    def data_received(self, data: bytes) -> None:
        oversized = self.decoder.oversized
        frames = list(self.decoder.feed(data))
        if self.decoder.oversized > oversized:
            self.bad_frames.report(
                BadFrame.OVERSIZED,
                f"longer than {MAX_FRAME_CHARS} characters: dropped up to its end",
                count=self.decoder.oversized - oversized,
            )
        wanted = getattr(self.factory, "event_filter", None)
        for frame in frames:
            if "\ufffd" in frame:  # still used: only the odd bytes are lost
                self.bad_frames.report(BadFrame.NOT_UTF8, excerpt(frame))
            if wanted is not None and not wanted.wants(frame):
                continue
            try:
                message = parse_frame(frame)
                if message is None:
                    self.bad_frames.report(BadFrame.UNPARSABLE, excerpt(frame))
                    continue
                self.handle_message(message)
            except Exception as exc:  # never out of data_received: asyncio would drop us
                self.bad_frames.report(
                    BadFrame.FAILED, f"{type(exc).__name__}: {exc}; {excerpt(frame)}"
                )

    def close(self) -> None:
        pending = list({id(a): a for a in self.responses.values()}.values())
        super().close()
        for action in pending:
            if not action.future.done():
                action.future.set_exception(AmiConnectionError("connection to the PBX lost"))
        if self.factory is not None:
            self.factory.awaiting_actions.clear()


class _Manager(Manager):
    """panoramisk's Manager minus its own reconnects, pinger and action replay."""

    pinger: asyncio.TimerHandle | None
    event_filter: EventFilter | None = None
    bad_frames: BadFrames

    def __init__(
        self, *, on_event: EventCallback, on_lost: Callable[[Exception | None], None], **config: Any
    ) -> None:
        super().__init__(**config)
        self._on_event = on_event
        self._on_lost = on_lost

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # AmiClient.run sees the failure and decides when to retry
        super().connection_made(f)

    def ping(self) -> None:
        """Disabled: AmiClient's watchdog pings with a deadline."""

    async def send_awaiting_actions(self, *_: Any) -> None:
        """Disabled: an action that may have reached the PBX is never re-sent blindly."""

    def dispatch(self, event: Message) -> list[str]:
        self._on_event(event)
        return []

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        if self.pinger:
            self.pinger.cancel()
            self.pinger = None
        self._on_lost(exc)


class AmiClient:
    """Connects, logs in and keeps the connection alive until `close()`."""

    def __init__(
        self,
        endpoint: AmiEndpoint,
        *,
        on_event: EventCallback,
        on_connected: Callable[[], Awaitable[None]] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        action_timeout: float = 10.0,
        ping_interval: float = 5.0,
        ping_timeout: float = 5.0,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        clock: Clock,
        rng: random.Random | None = None,
        event_filter: EventFilter | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.event_filter = event_filter  # None: every event reaches on_event
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self.action_timeout = action_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._manager: _Manager | None = None
        self._lost = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:8]
        self.connected = False
        self.attempts = 0  # connections tried, logins refused included
        self.connections = 0  # connections that logged in
        self.last_error: str | None = None
        self.bad_frames = BadFrames(clock)  # across connections: /healthz and /metrics

    # -- life cycle ---------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until `close()`. Only wrong credentials end it (AmiAuthenticationError,
        never retried); any other failure, a refused login included, backs off and retries."""
        delay = self.backoff_min
        while not self._closing:
            announced = False  # on_connected ran: on_disconnected must follow, however it ends
            try:
                await self._connect()
                delay = self.backoff_min
                self.connected = True
                self.connections += 1
                self.last_error = None
                log.info("AMI connected to %s", self.endpoint)
                announced = True
                if self._on_connected is not None:
                    await self._on_connected()
                await self._watch()
            except AmiAuthenticationError as exc:
                self.last_error = str(exc)
                log.error("%s", exc)
                raise
            except (OSError, AmiError, TimeoutError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                if not self._closing:
                    log.warning("AMI connection to %s: %s", self.endpoint, self.last_error)
            finally:
                # The PBX closing the socket clears `connected` before we get here: whether
                # the rest of the system was told "connected" is what decides.
                self._teardown()
                if announced and self._on_disconnected is not None:
                    self._on_disconnected(self.last_error or "closed")
            if self._closing:
                break
            pause = self._rng.uniform(delay / 2, delay)
            log.info("AMI reconnecting to %s in %.1f s", self.endpoint, pause)
            with contextlib.suppress(TimeoutError):  # close() ends the pause at once
                await asyncio.wait_for(self._closed.wait(), pause)
            delay = min(delay * 2, self.backoff_max)

    async def close(self) -> None:
        self._closing = True
        self._closed.set()
        manager = self._manager
        if manager is not None and manager.protocol is not None and self.connected:
            with contextlib.suppress(AmiError):
                await self.send({"Action": "Logoff"}, as_list=False, timeout=1.0)
        self._teardown()
        self._lost.set()

    def _teardown(self) -> None:
        self.connected = False
        manager, self._manager = self._manager, None
        if manager is not None:
            manager.close()

    async def _connect(self) -> None:
        self.attempts += 1
        self._lost = asyncio.Event()
        manager = _Manager(
            host=self.endpoint.host,
            port=self.endpoint.port,
            loop=asyncio.get_running_loop(),
            protocol_factory=_Protocol,
            encoding="utf8",
            ping_delay=10**9,
            on_event=self._on_event,
            on_lost=self._connection_lost,
        )
        manager.event_filter = self.event_filter
        manager.bad_frames = self.bad_frames
        self._manager = manager
        await asyncio.wait_for(manager.connect(), self.action_timeout)
        if manager.protocol is None:  # connection_made runs as the connect task's callback
            await asyncio.sleep(0)
        response = await self.send(
            {
                "Action": "Login",
                "Username": self.endpoint.username,
                "Secret": self.endpoint.secret.get_secret_value(),
                "Events": "on",
            },
            as_list=False,
            _require_connected=False,
        )
        if not response.success:
            reason = str(response.get("Message") or "refused")
            if reason.strip().rstrip(".").lower() != AUTHENTICATION_FAILED.lower():
                raise AmiLoginRefused(f"the PBX refused the login: {reason}")
            raise AmiAuthenticationError(
                f"AMI login to {self.endpoint.host}:{self.endpoint.port} as "
                f"{self.endpoint.username!r} failed: {reason}; check CALLCENTRE_AMI_USER and "
                "CALLCENTRE_AMI_SECRET against manager.conf"
            )

    def _connection_lost(self, exc: Exception | None) -> None:
        self.connected = False
        self._lost.set()

    async def _watch(self) -> None:
        """Ping on a schedule; a Ping without answer in time means the peer is gone."""
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self.ping_interval)
            if self._lost.is_set():
                raise AmiConnectionError("the PBX closed the connection")
            try:
                await self.send({"Action": "Ping"}, as_list=False, timeout=self.ping_timeout)
            except AmiActionTimeout:
                raise AmiConnectionError(
                    f"no answer to Ping within {self.ping_timeout:g} s; the PBX went silent"
                ) from None

    # -- actions ----------------------------------------------------------------------------

    def new_action_id(self, name: str) -> str:
        return f"cc-{self._prefix}-{name.lower()}-{next(self._ids)}"

    async def send(
        self,
        action: Mapping[str, Any],
        *,
        as_list: bool,
        timeout: float | None = None,
        on_complete: ListCallback | None = None,
        _require_connected: bool = True,
    ) -> Any:
        """Send an action and wait (bounded) for its response, or its list when `as_list`."""
        manager = self._manager
        if (
            manager is None
            or manager.protocol is None
            or (_require_connected and not self.connected)
        ):
            raise AmiConnectionError(f"not connected to the PBX at {self.endpoint}")
        data = dict(action)
        name = str(data.get("Action", "?"))
        data.setdefault("ActionID", self.new_action_id(name))
        request = _Action(data, as_list=as_list, on_complete=on_complete)
        future = manager.send_action(request, as_list=as_list)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout or self.action_timeout)
        except TimeoutError:
            responses = manager.protocol.responses if manager.protocol else {}
            responses.pop(request.id, None)
            if not future.done():
                future.cancel()
            raise AmiActionTimeout(
                f"{name} got no answer within {timeout or self.action_timeout:g} s"
            ) from None

    async def send_checked(
        self, action: Mapping[str, Any], *, timeout: float | None = None
    ) -> Message:
        """A single action that must succeed; raises AmiActionFailed with Asterisk's words."""
        response = await self.send(action, as_list=False, timeout=timeout)
        if not response.success:
            raise AmiActionFailed(str(action.get("Action")), response)
        return response

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        variables: Mapping[str, str] | None = None,
        caller_id: str | None = None,
        timeout_ms: int = 30_000,
        action_id: str | None = None,
        channel_id: str | None = None,
    ) -> str:
        """Queue an Originate (always Async) and return its ActionID; the outcome arrives later
        as an OriginateResponse event with that ActionID. `channel_id`: the Uniqueid (and so
        the Linkedid) the new channel gets (Asterisk's ChannelId; a Local channel's `;2` gets
        it with `;2` appended)."""
        action_id = action_id or self.new_action_id("originate")
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": action_id,
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": "1",
            "Timeout": str(timeout_ms),
            "Async": "true",
        }
        if caller_id:
            action["CallerID"] = caller_id
        if channel_id:
            action["ChannelId"] = channel_id
        if variables:
            action["Variable"] = [f"{key}={value}" for key, value in variables.items()]
        await self.send_checked(action)
        return action_id

    def pause_reading(self) -> None:
        protocol = self._manager.protocol if self._manager else None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.pause_reading()

    def resume_reading(self) -> None:
        protocol = self._manager.protocol if self._manager else None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.resume_reading()
