"""What a request handler may use: one object built at start-up, found on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from fastapi import Request

from crm.bus import Bus
from crm.clock import Clock, local_today
from crm.complaints.rules import ComplaintRules
from crm.db import Database
from crm.dispositions.codes import DispositionCodes, load_codes
from crm.settings import Settings
from crm.work_calendar import WorkCalendar, load_calendar
from telephony.bridge import Bridge
from telephony.call_controls import CallControls
from telephony.dialer import Dialer
from telephony.foreground import Foreground
from telephony.recordings.files import RecordingFiles
from web.events import UserMessage
from web.extension_directory import ExtensionDirectory
from web.recordings_disk import RecordingsDiskWatch

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from telephony.dialer_board import DialerBoard
    from telephony.pbx_requests import RemotePbx
    from web.agent_states import AgentStates
    from web.metrics import Metrics
    from web.outbox import Outbox
    from web.ws_messages import PushedMessage


@dataclass
class Services:
    settings: Settings
    database: Database
    clock: Clock
    bus: Bus
    outbox: Outbox
    metrics: Metrics
    bridge: Bridge | None = None
    agent_states: AgentStates | None = field(default=None)
    dialer: Dialer | None = None
    # Several processes (Redis configured): the client they share, the PBX through the bridge.
    redis: Redis | None = None
    remote_pbx: RemotePbx | None = None
    dialer_board: DialerBoard | None = None  # every dialer's state, whichever process

    def today(self) -> date:
        return local_today(self.clock, self.settings.tz)

    def notify_user(self, user_id: int, message: PushedMessage) -> None:
        """A message for the user's browser, on whichever web process holds its websocket."""
        if self.bus.spans_processes:
            payload = message.model_dump(mode="json", exclude={"seq", "type"})
            self.bus.publish(UserMessage(user_id, message.type, payload))
        else:
            self.outbox.push(user_id, message)

    async def dialer_status(self) -> dict[str, Any] | None:
        """Whether a dialer is working: all of them (through Redis) when processes share the
        work, else this process's own; None when none is running."""
        status = await self.dialer_board.status() if self.dialer_board is not None else None
        if status is None and self.dialer is not None:
            health = self.dialer.health()
            status = {**health, "standby": 0 if health["active"] else 1}
        return status

    def pbx_connected(self) -> bool | None:
        """Whether the PBX is connected; None when this process has no way to it."""
        if self.bridge is not None:
            return self.bridge.client.connected
        return self.remote_pbx.connected if self.remote_pbx is not None else None

    @cached_property
    def extensions(self) -> ExtensionDirectory:
        """Who has which extension, kept briefly: what a ring looks up."""
        return ExtensionDirectory(self.database, self.clock)

    @cached_property
    def foreground(self) -> Foreground:
        """The screen pops in progress, which background steps let go first."""
        return Foreground()

    @cached_property
    def complaint_rules(self) -> ComplaintRules:
        return ComplaintRules.of(self.settings)

    @cached_property
    def calendar(self) -> WorkCalendar:
        """Public holidays and working weekends (the calling hours close on holidays)."""
        return load_calendar(self.settings.holidays_path)

    @cached_property
    def call_controls(self) -> CallControls | None:
        """The console's call controls on this process's bridge (None: the bridge is another
        process's; ask it through `remote_pbx`)."""
        return CallControls(self.bridge) if self.bridge is not None else None

    @cached_property
    def disposition_codes(self) -> DispositionCodes:
        """The codes agents pick in wrap-up (checked when the settings were read)."""
        return load_codes(self.settings.disposition_codes_path)

    @cached_property
    def recording_files(self) -> RecordingFiles:
        """Where recordings are read from (and fetched into); one per process."""
        return RecordingFiles.of(self.settings, self.clock)

    @cached_property
    def recordings_disk(self) -> RecordingsDiskWatch:
        """The recordings directory's disk and oldest recording; one per process."""
        return RecordingsDiskWatch(
            directory=self.recording_files.directory,  # the one place that knows it
            warn_percent=self.settings.disk_warn_percent,
            clock=self.clock,
            database=self.database,
        )


def services(request: Request) -> Services:
    return request.app.state.services
