"""The AMI bridge: one connection, one FIFO of events, one tracker, the call store, the bus.

Events are applied strictly in arrival order by a single consumer. After every (re)connect,
and every few minutes, CoreShowChannels and QueueStatus are queued in the same FIFO at the
place their answer arrived, so the tracker settles against the PBX without reordering.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from panoramisk.message import Message

from crm.bus import Bus
from crm.clock import Clock
from crm.db import Database
from crm.settings import Settings
from telephony import contract
from telephony.ami.bad_frames import BadFrame
from telephony.ami.client import AmiActionFailed, AmiClient, AmiEndpoint, AmiError
from telephony.ami.framing import EventFilter
from telephony.call_store import CallStore
from telephony.channels import AgentDirectory
from telephony.events import (
    CallUpdated,
    DomainEvent,
    PbxConnection,
    QueueMemberChanged,
    QueueMembersResynced,
)
from telephony.queues import MEMBER_EVENTS, QueueMembers
from telephony.supervision import SpyCall
from telephony.tracker import CallTracker

log = logging.getLogger(__name__)

HIGH_WATER, LOW_WATER = 20_000, 5_000


@dataclass(frozen=True, slots=True)
class _Event:
    message: Message
    at: datetime
    received: float


class _Resync(StrEnum):
    """What a resync asks the PBX for (its word in the log)."""

    CHANNELS = "channels"  # CoreShowChannels: the live calls, for the tracker
    QUEUES = "queues"  # QueueStatus: the queue members


_RESYNC_ACTIONS = {_Resync.CHANNELS: "CoreShowChannels", _Resync.QUEUES: "QueueStatus"}


@dataclass(frozen=True, slots=True)
class _ChannelsAsked:
    """The place in the FIFO where the live channels were asked for: the answer completes
    later, after events that may be newer than it."""


@dataclass(frozen=True, slots=True)
class _Snapshot:
    kind: _Resync
    messages: list[Message]
    at: datetime


def bridge_event_filter(tracker: CallTracker) -> EventFilter:
    """The events the bridge applies: the tracker's, the queue members', the PBX's shutdown."""
    return EventFilter(
        tracker.handled_events | MEMBER_EVENTS | {"Shutdown"},
        tracker.handled_variables,
        tracker.handled_applications,
    )


class Bridge:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        bus: Bus,
        *,
        clock: Clock,
        resync_interval: float = 300.0,
        records_calls: bool = True,
    ) -> None:
        self.settings = settings
        # False: a follower (the dialer's own AMI session) that tracks calls without storing
        # them; the PBX's one recording bridge stores them.
        self.records_calls = records_calls
        self.bus = bus
        self.clock = clock
        self.agents = AgentDirectory(settings.agent_extension_pattern)
        self.tracker = CallTracker(self.agents)
        self.queue_members = QueueMembers(self.agents)
        self.store = CallStore(
            database, pbx_id=settings.pbx_id, default_area_code=settings.default_area_code
        )
        self.client = AmiClient(
            AmiEndpoint(
                settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret
            ),
            on_event=self._on_event,
            on_connected=self._on_connected,
            on_disconnected=self._on_disconnected,
            action_timeout=settings.ami_action_timeout,
            ping_interval=settings.ami_ping_interval,
            ping_timeout=settings.ami_ping_timeout,
            backoff_min=settings.ami_reconnect_min,
            backoff_max=settings.ami_reconnect_max,
            event_filter=bridge_event_filter(self.tracker),
            clock=clock,
        )
        self.resync_interval = resync_interval
        self._fifo: asyncio.Queue[_Event | _ChannelsAsked | _Snapshot] = asyncio.Queue()
        self._paused = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.synced_at: float | None = None  # monotonic: last channels resync since connecting
        self.events_processed = 0
        self.last_event_at: datetime | None = None
        self.fatal: str | None = None

    # -- life cycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Settle the calls the database left open, then connect and follow the PBX."""
        if self.records_calls:
            self.tracker.restore(await self.store.load_live())
        self._tasks = [
            asyncio.create_task(self._consume(), name="ami-consumer"),
            asyncio.create_task(self._connect_forever(), name="ami-client"),
            asyncio.create_task(self._resync_periodically(), name="ami-resync"),
        ]
        if self.records_calls:
            self._tasks.append(asyncio.create_task(self.store.run(), name="call-store"))

    async def stop(self) -> None:
        await self.client.close()
        await self.drain()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def drain(self) -> None:
        """Wait until every event received so far is applied and stored (tests, shutdown)."""
        await self._fifo.join()
        await self.store.flush()

    async def _connect_forever(self) -> None:
        try:
            await self.client.run()
        except AmiError as exc:  # bad credentials: stop trying, say so in /healthz and metrics
            self.fatal = str(exc)
            log.critical("the PBX bridge has stopped: %s; restart the server once fixed", exc)

    # -- input: runs inside panoramisk's read loop, must not block ------------------------

    def _on_event(self, message: Message) -> None:
        self._put(_Event(message, self.clock.now(), self.clock.monotonic()))

    def _put(self, item: _Event | _ChannelsAsked | _Snapshot) -> None:
        self._fifo.put_nowait(item)
        if not self._paused and self._fifo.qsize() > HIGH_WATER:
            log.warning("AMI events arrive faster than they are applied; pausing the socket")
            self._paused = True
            self.client.pause_reading()

    @property
    def settled(self) -> bool:
        """Connected, resynced since, and given a moment to recover adopted calls' variables:
        only then may silence from the PBX about a call be taken to mean there is none."""
        return (
            self.client.connected
            and self.synced_at is not None
            and self.clock.monotonic() - self.synced_at > 3.0
        )

    def _on_disconnected(self, reason: str) -> None:
        self.synced_at = None
        self.bus.publish(PbxConnection(False, self.clock.now()))

    async def _on_connected(self) -> None:
        self.bus.publish(PbxConnection(True, self.clock.now()))
        await self.resync()

    async def resync(self) -> None:
        """Ask the PBX for its live channels and queue members; answers join the FIFO."""
        for kind, action in _RESYNC_ACTIONS.items():

            def complete(messages: list[Message], kind: _Resync = kind) -> None:
                self._put(_Snapshot(kind, messages, self.clock.now()))

            if kind is _Resync.CHANNELS:
                self._put(_ChannelsAsked())
            try:
                await self.client.send({"Action": action}, as_list=True, on_complete=complete)
            except AmiError as exc:
                log.warning("resync %s failed: %s", kind, exc)

    async def _resync_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval)
            if self.client.connected:
                await self.resync()

    # -- the one consumer -------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            item = await self._fifo.get()
            try:
                if isinstance(item, _Event):
                    self._apply_event(item)
                elif isinstance(item, _ChannelsAsked):
                    self.tracker.resync_asked()
                else:
                    self._apply_snapshot(item)
            except Exception as exc:  # a bug, not the PBX's fault: traceback, but not a flood
                self.client.bad_frames.report(
                    BadFrame.NOT_APPLIED,
                    f"{type(exc).__name__}: {exc}; {item!r:.300}",
                    exc_info=True,
                )
            finally:
                self._fifo.task_done()
            if self._paused and self._fifo.qsize() < LOW_WATER:
                self._paused = False
                self.client.resume_reading()

    def _apply_event(self, item: _Event) -> None:
        self.events_processed += 1
        self.last_event_at = item.at
        name = item.message.get("Event")
        if name == "Shutdown":  # the socket closes next; the client reconnects when it can
            log.warning(
                "the PBX announced its shutdown (%s, restart: %s)",
                item.message.get("Shutdown"),
                item.message.get("Restart"),
            )
            return
        if name in MEMBER_EVENTS:
            member = self.queue_members.apply(item.message)
            if member is not None:
                self.bus.publish(QueueMemberChanged(member))
            return
        self._publish(self.tracker.feed(item.message, item.at, item.received))

    def _apply_snapshot(self, item: _Snapshot) -> None:
        first = item.messages[0] if item.messages else None
        if first is None or first.get("Response") != "Success":
            log.warning(
                "PBX refused the %s resync: %s",
                item.kind,
                first.get("Message") if first is not None else "no answer",
            )
            return
        if item.kind is _Resync.CHANNELS:
            channels = [m for m in item.messages if m.get("Event") == "CoreShowChannel"]
            self._publish(self.tracker.resync(channels, item.at))
            self.synced_at = self.clock.monotonic()
            log.info("resynced with %d live channel(s)", len(channels))
            adopted, self.tracker.adopted = self.tracker.adopted, []
            for linkedid, uniqueid, channel in adopted:
                task = asyncio.create_task(self._recover_variables(linkedid, uniqueid, channel))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        else:
            self.queue_members.reset(item.messages)
            self.bus.publish(QueueMembersResynced(tuple(self.queue_members.members())))

    async def _recover_variables(self, linkedid: str, uniqueid: str, channel: str) -> None:
        """A call picked up by a resync lost its channel variables (which attempt, which
        customer, which recordings): ask the PBX, and apply the answers as VarSet events."""
        for variable in sorted(contract.TRACKED_VARIABLES):
            try:
                response = await self.client.send(
                    {"Action": "Getvar", "Channel": channel, "Variable": variable}, as_list=False
                )
            except AmiError:
                return
            value = response.get("Value") if response.success else None
            if value:
                self._put(
                    _Event(
                        Message(
                            {
                                "Event": "VarSet",
                                "Channel": channel,
                                "Uniqueid": uniqueid,
                                "Linkedid": linkedid,
                                "Variable": variable,
                                "Value": value,
                            }
                        ),
                        self.clock.now(),
                        self.clock.monotonic(),
                    )
                )

    def _publish(self, events: list[DomainEvent]) -> None:
        for event in events:
            if isinstance(event, CallUpdated):
                if self.records_calls:
                    self.store.submit(event.record)
            else:
                self.bus.publish(event)

    # -- what the rest of the system may ask of the PBX ---------------------------------------

    async def originate(
        self,
        *,
        channel: str,
        context: str,
        exten: str,
        variables: dict[str, str] | None = None,
        caller_id: str | None = None,
        attempt_id: int | None = None,
        dialed: str | None = None,
        timeout_ms: int = 30_000,
    ) -> str:
        """Start a call; the tracker is told first so even a channel-less failure is logged."""
        action_id = self.client.new_action_id("originate")
        self.tracker.expect_originate(action_id, attempt_id=attempt_id, dialed=dialed)
        return await self.client.originate(
            channel=channel,
            context=context,
            exten=exten,
            variables=variables,
            caller_id=caller_id,
            timeout_ms=timeout_ms,
            action_id=action_id,
        )

    async def spy(self, call: SpyCall, *, timeout_ms: int = 30_000) -> str:
        """Ring the supervisor's phone into ChanSpy on the agent's phone channel (the dialplan's
        spy context); its ActionID. No call of the centre's: the tracker leaves its channels
        out (their ids are `call.channel_id`), and the agent is told nothing."""
        return await self.client.originate(
            channel=call.phone,
            context=contract.CONTEXT_SPY,
            exten=call.mode.value,
            variables={contract.VAR_SPY_EXTEN: call.agent_extension},
            caller_id=call.caller_id,
            timeout_ms=timeout_ms,
            action_id=self.client.new_action_id("spy"),
            channel_id=call.channel_id,
        )

    async def queue_add(
        self, *, queue: str, interface: str, member_name: str, paused: bool = False
    ) -> None:
        """Make the agent a member; already being one is fine (the pause state is then set)."""
        response = await self.client.send(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": interface,
                "MemberName": member_name,
                "Paused": "true" if paused else "false",
            },
            as_list=False,
        )
        if response.success:
            return
        if "already" not in str(response.get("Message", "")).lower():
            raise AmiActionFailed("QueueAdd", response)
        await self.queue_pause(interface=interface, paused=paused, queue=queue)

    async def queue_remove(self, *, queue: str, interface: str, missing_ok: bool = False) -> None:
        try:
            await self.client.send_checked(
                {"Action": "QueueRemove", "Queue": queue, "Interface": interface}
            )
        except AmiError:
            if not missing_ok:
                raise

    async def queue_pause(
        self, *, interface: str, paused: bool, reason: str = "", queue: str | None = None
    ) -> None:
        action = {
            "Action": "QueuePause",
            "Interface": interface,
            "Paused": "true" if paused else "false",
        }
        if queue:
            action["Queue"] = queue
        if reason:
            action["Reason"] = reason
        await self.client.send_checked(action)

    def health(self) -> dict[str, Any]:
        return {
            "connected": self.client.connected,
            # True when the bridge gave up for good (the PBX refused our credentials).
            "stopped": self.fatal is not None,
            "pbx": f"{self.settings.ami_host}:{self.settings.ami_port}",
            "error": self.fatal or self.client.last_error,
            "live_calls": self.tracker.live_count,
            "events_processed": self.events_processed,
            "queue_depth": self._fifo.qsize(),
            "calls_pending_storage": self.store.pending,
            # Frames from the PBX that could not be used, by kind (none is ever fatal).
            "bad_frames": self.client.bad_frames.figures(),
        }
