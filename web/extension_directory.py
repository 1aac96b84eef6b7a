"""Who a ringing phone is: every active user's extension, read in one query and kept briefly,
shared by the screen pops and the agents' state pushes so that a ring costs neither a round
trip of its own.

The map is read again after `KEEP_SECONDS`, at once when a user is created or edited in any
process (`changed`: the ExtensionsChanged event, across processes through the events
stream), and, for an extension it does not know, at most once every `MISS_RELOAD_SECONDS`
(an agent just created rings within a second).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Collection

from crm.clock import Clock
from crm.db import Database
from crm.users import service as users
from crm.users.service import ExtensionHolder
from web.events import ExtensionsChanged

log = logging.getLogger(__name__)

KEEP_SECONDS = 30.0
MISS_RELOAD_SECONDS = 1.0


class ExtensionDirectory:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._holders: dict[str, ExtensionHolder] = {}
        self._of_user: dict[int, str] = {}
        self._read_at = -math.inf
        self._reading: asyncio.Task[None] | None = None

    async def holder(self, extension: str | None) -> ExtensionHolder | None:
        """The active user with this extension, or None."""
        if not extension:
            return None
        age = self.clock.monotonic() - self._read_at
        if age >= KEEP_SECONDS or (extension not in self._holders and age >= MISS_RELOAD_SECONDS):
            await self._refresh()
        return self._holders.get(extension)

    async def user_id(self, extension: str | None) -> int | None:
        holder = await self.holder(extension)
        return holder.user_id if holder is not None else None

    async def user_ids(self) -> dict[str, int]:
        """Every extension held → its user's id (read again when stale)."""
        if self.clock.monotonic() - self._read_at >= KEEP_SECONDS:
            await self._refresh()
        return {extension: h.user_id for extension, h in self._holders.items()}

    async def of_users(self, user_ids: Collection[int]) -> dict[str, int]:
        """The extensions of these users (those who have one) → the user's id."""
        if self.clock.monotonic() - self._read_at >= KEEP_SECONDS:
            await self._refresh()
        held = ((self._of_user.get(user_id), user_id) for user_id in user_ids)
        return {extension: user_id for extension, user_id in held if extension is not None}

    async def _refresh(self) -> None:
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read())
        try:
            await asyncio.shield(self._reading)  # one read for every caller waiting
        except Exception as exc:
            if not self._holders:
                raise
            log.warning("agents' extensions not re-read (%s); using the last known", exc)

    async def _read(self) -> None:
        async with self.database.session() as session:
            self._holders = await users.extension_holders(session)
        self._of_user = {h.user_id: extension for extension, h in self._holders.items()}
        self._read_at = self.clock.monotonic()

    def forget(self) -> None:
        """A user was created or edited: the next ring reads the map again."""
        self._read_at = -math.inf

    async def changed(self, event: ExtensionsChanged) -> None:
        """A user was created or edited, maybe in another process (a bus subscriber)."""
        self.forget()
