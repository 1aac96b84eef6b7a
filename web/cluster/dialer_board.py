"""Whether a dialer is working, for a campaign page served by a process without one.

Each dialer process writes its state (active or standing by, calls started) into one Redis
hash every few seconds, and removes it when it stops cleanly; a web process reads the hash
when a supervisor opens a campaign. An entry not refreshed for `STALE_SECONDS` belongs to a
dialer that died: it is ignored, and removed. Times are the writers' wall clocks, so the
machines' clocks must agree to within a few seconds (NTP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DIALERS_KEY = "callcentre:dialers"
STALE_SECONDS = 10.0


class DialerBoard:
    def __init__(self, redis: Redis, *, stale_seconds: float = STALE_SECONDS) -> None:
        self.redis = redis
        self.stale_seconds = stale_seconds

    async def publish(self, name: str, health: Callable[[], dict[str, Any]], *,
                      interval: float = 2.0) -> None:
        """Keep this dialer's entry fresh until cancelled, then remove it."""
        try:
            while True:
                try:
                    await self.redis.hset(DIALERS_KEY, name,
                                          json.dumps({**health(), "at": time.time()}))
                except RedisError as exc:
                    log.warning("cannot write the dialer's state to Redis: %s", exc)
                await asyncio.sleep(interval)
        finally:  # a clean stop: the page shows the standby at once, not in 10 s
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hdel(DIALERS_KEY, name)

    async def status(self) -> dict[str, Any] | None:
        """The dialers together, as the campaign page shows them: the active one's calls and
        how many stand by; None when no dialer is alive or Redis cannot be read."""
        try:
            entries = await self.redis.hgetall(DIALERS_KEY)
        except RedisError as exc:
            log.warning("cannot read the dialers' state from Redis: %s", exc)
            return None
        now = time.time()
        alive: list[dict[str, Any]] = []
        dead: list[str] = []
        for name, raw in entries.items():
            try:
                entry = json.loads(raw)
                fresh = now - float(entry["at"]) <= self.stale_seconds
            except (ValueError, TypeError, KeyError):
                fresh = False
            if fresh:
                alive.append(entry)
            else:
                dead.append(str(name))
        if dead:
            with contextlib.suppress(RedisError):
                await self.redis.hdel(DIALERS_KEY, *dead)
        if not alive:
            return None
        active = [entry for entry in alive if entry.get("active")]
        return {"active": bool(active),
                "calls_started": sum(int(entry.get("calls_started", 0)) for entry in active),
                "standby": len(alive) - len(active)}
