"""Keeps the supervisors' wallboards live: a fresh snapshot goes over the websocket
(message type "wallboard") to every supervisor and admin connected to this process when a
call or an agent's state changes, at most twice a second, and every few seconds anyway so
that figures driven by time (late work, state totals) move. The page ticks the clocks
(waits, time in state) itself between snapshots.

A figure that crosses an alert threshold (crm/wallboard/thresholds.py) is pushed once more,
as a "wallboard_alert" message, to the same supervisors: once per crossing (a warning, then an
alarm; falling back and rising again is a new one), never every snapshot. A snapshot is due
the moment a running clock (a caller's wait, an agent's pause) reaches a level. Each web
process tells the supervisors connected to it; the first snapshot after nobody watched is the
new baseline (a supervisor arriving sees the colours, not a flood of old news)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

from crm.agents.events import AgentStateChanged
from crm.users import service as users
from crm.users.models import Role
from crm.wallboard.service import LateWork
from crm.wallboard.thresholds import Level, Thresholds, crossings, levels, next_change
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    PbxConnection,
    QueueMemberChanged,
    QueueMembersResynced,
    RingStopped,
)
from web.floor import agent_extensions, live_view
from web.services import Services
from web.wallboard import WallboardOut, board_now, late_work, snapshot
from web.ws_messages import WallboardAlertMessage, WallboardMessage

log = logging.getLogger(__name__)

WALLBOARD_EVENTS = (
    CallAnswered,
    CallEnded,
    AgentRinging,
    RingStopped,
    QueueMemberChanged,
    QueueMembersResynced,
    PbxConnection,
    AgentStateChanged,
)


class WallboardFeed:
    def __init__(
        self,
        svc: Services,
        *,
        min_interval: float = 0.5,
        check_interval: float = 1.0,
        refresh_interval: float = 5.0,
        late_work_ttl: float = 15.0,
        watchers_ttl: float = 10.0,
    ) -> None:
        self.svc = svc
        self.min_interval = min_interval  # throttle: at most 1 / min_interval pushes a second
        self.check_interval = check_interval  # how often the live calls are looked at
        self.refresh_interval = refresh_interval  # a push at least this often
        self.late_work_ttl = late_work_ttl  # the late-work queries are heavier: kept a while
        self.watchers_ttl = watchers_ttl
        self._wake = asyncio.Event()
        self._live_key: Any = None
        self._pushed_at: float | None = None  # the clock's monotonic reading of the last push
        self._sent_to: set[int] = set()
        self._late: tuple[float, LateWork] | None = None
        self._supervisors: tuple[float, list[int]] | None = None
        self._levels: dict[str, Level] | None = None  # each alert's level at the last push
        self._next_alert_at: datetime | None = None  # a running clock reaches a level
        self.pushes = 0
        self.alerts_pushed = 0

    async def handle(self, event: object) -> None:
        """A bus subscriber: something the wallboard shows has changed."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.check_interval)
            changed = self._wake.is_set()
            self._wake.clear()
            try:
                await self.svc.foreground.yield_to()  # the screen pops in progress first
                if await self.publish(changed=changed):
                    await asyncio.sleep(self.min_interval)
            except Exception:
                log.exception("wallboard update failed; trying again")

    async def _watchers(self) -> list[int]:
        """Supervisors and admins whose browsers are connected to this process."""
        cached, now = self._supervisors, self.svc.clock.monotonic()
        if cached is None or now - cached[0] > self.watchers_ttl:
            async with self.svc.database.session() as session:
                ids = await users.active_user_ids(session, roles=(Role.SUPERVISOR, Role.ADMIN))
            cached = self._supervisors = (self.svc.clock.monotonic(), ids)
        return [uid for uid in cached[1] if self.svc.outbox.connected(uid)]

    async def _late_work(self) -> LateWork:
        if self._late is None or self.svc.clock.monotonic() - self._late[0] > self.late_work_ttl:
            self._late = (self.svc.clock.monotonic(), await late_work(self.svc))
        return self._late[1]

    async def publish(self, *, changed: bool) -> bool:
        """Push a snapshot if anyone watches and something may have changed; True if pushed."""
        watchers = await self._watchers()
        if not watchers:
            self._sent_to = set()
            self._levels = None
            return False
        live_key = (await live_view(self.svc, await agent_extensions(self.svc))).key()
        due = (
            changed
            or live_key != self._live_key
            or not set(watchers) <= self._sent_to
            or self._pushed_at is None
            or self.svc.clock.monotonic() - self._pushed_at >= self.refresh_interval
            or (self._next_alert_at is not None and self.svc.clock.now() >= self._next_alert_at)
        )
        if not due:
            return False
        board = await snapshot(self.svc, late=await self._late_work())
        message = WallboardMessage(**dict(board))
        for user_id in watchers:
            self.svc.outbox.push(user_id, message)
        self._live_key, self._sent_to = live_key, set(watchers)
        self._pushed_at = self.svc.clock.monotonic()
        self.pushes += 1
        self._alert(board, watchers)
        return True

    def _alert(self, board: WallboardOut, watchers: list[int]) -> None:
        """Push the alerts that rose since the last snapshot; note when the next may."""
        previous, self._levels = self._levels, levels(board.alerts)
        limits = Thresholds.of(self.svc.settings)
        self._next_alert_at = next_change(
            *board_now(board.queues, board.agents), limits, board.server_time
        )
        if previous is None:
            return  # the baseline
        risen = crossings(previous, board.alerts)
        if not risen:
            return
        message = WallboardAlertMessage(server_time=board.server_time, alerts=risen)
        for user_id in watchers:
            self.svc.outbox.push(user_id, message)
        self.alerts_pushed += len(risen)
