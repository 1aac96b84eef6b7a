"""Keeps the supervisors' wallboards live: a fresh snapshot goes over the websocket
(message type "wallboard") to every supervisor and admin connected to this process when a
call or an agent's state changes, at most twice a second, and every few seconds anyway so
that figures driven by time (late work, state totals) move. The page ticks the clocks
(waits, time in state) itself between snapshots."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from crm.agents.events import AgentStateChanged
from crm.users import service as users
from crm.users.models import Role
from crm.wallboard.service import LateWork
from telephony.events import (
    AgentRinging,
    CallAnswered,
    CallEnded,
    PbxConnection,
    QueueMemberChanged,
    QueueMembersResynced,
    RingStopped,
)
from web.services import Services
from web.wallboard import agent_extensions, late_work, live_view, snapshot
from web.ws_messages import WallboardMessage

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
        self._pushed_at = 0.0
        self._sent_to: set[int] = set()
        self._late: tuple[float, LateWork] | None = None
        self._supervisors: tuple[float, list[int]] | None = None
        self.pushes = 0

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
                if await self.publish(changed=changed):
                    await asyncio.sleep(self.min_interval)
            except Exception:
                log.exception("wallboard update failed; trying again")

    async def _watchers(self) -> list[int]:
        """Supervisors and admins whose browsers are connected to this process."""
        cached = self._supervisors
        if cached is None or time.monotonic() - cached[0] > self.watchers_ttl:
            async with self.svc.database.session() as session:
                ids = await users.active_user_ids(session, roles=(Role.SUPERVISOR, Role.ADMIN))
            cached = self._supervisors = (time.monotonic(), ids)
        return [uid for uid in cached[1] if self.svc.outbox.connected(uid)]

    async def _late_work(self) -> LateWork:
        if self._late is None or time.monotonic() - self._late[0] > self.late_work_ttl:
            self._late = (time.monotonic(), await late_work(self.svc))
        return self._late[1]

    async def publish(self, *, changed: bool) -> bool:
        """Push a snapshot if anyone watches and something may have changed; True if pushed."""
        watchers = await self._watchers()
        if not watchers:
            self._sent_to = set()
            return False
        live_key = (await live_view(self.svc, await agent_extensions(self.svc))).key()
        due = (
            changed
            or live_key != self._live_key
            or not set(watchers) <= self._sent_to
            or time.monotonic() - self._pushed_at >= self.refresh_interval
        )
        if not due:
            return False
        board = await snapshot(self.svc, late=await self._late_work())
        message = WallboardMessage(**dict(board))
        for user_id in watchers:
            self.svc.outbox.push(user_id, message)
        self._live_key, self._sent_to = live_key, set(watchers)
        self._pushed_at = time.monotonic()
        self.pushes += 1
        return True
