"""Whether a dialer is working, for a campaign page served by a process without one.

Each dialer process keeps its state (active or standing by, calls started) in a Redis key
that expires, refreshed every few seconds, as the bridge does its PBX status
(`pbx_requests.py`), and deletes it when it stops cleanly; a web process reads the keys when
a supervisor opens a campaign. A dialer that died stops refreshing its key and Redis drops
it after `TTL_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

KEY_PREFIX = "callcentre:dialer:"
TTL_SECONDS = 10


def dialer_key(name: str) -> str:
    return f"{KEY_PREFIX}{name}"


class DialerBoard:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def publish(
        self, name: str, health: Callable[[], dict[str, Any]], *, interval: float = 2.0
    ) -> None:
        """Keep this dialer's key fresh until cancelled, then delete it."""
        try:
            while True:
                try:
                    await self.redis.set(dialer_key(name), json.dumps(health()), ex=TTL_SECONDS)
                except RedisError as exc:
                    log.warning("cannot write the dialer's state to Redis: %s", exc)
                await asyncio.sleep(interval)
        finally:  # a clean stop: the page shows the standby at once, not in 10 s
            with contextlib.suppress(RedisError, OSError):
                await self.redis.delete(dialer_key(name))

    async def status(self) -> dict[str, Any] | None:
        """The dialers together, as the campaign page shows them: the active one's calls and
        how many stand by; None when no dialer is alive or Redis cannot be read."""
        try:
            keys = [key async for key in self.redis.scan_iter(match=f"{KEY_PREFIX}*")]
            values = await self.redis.mget(keys) if keys else []
        except RedisError as exc:
            log.warning("cannot read the dialers' state from Redis: %s", exc)
            return None
        alive = []
        for raw in values:
            if raw is None:  # expired since the scan
                continue
            with contextlib.suppress(ValueError, TypeError):  # garbled: not a dialer's
                alive.append(dict(json.loads(raw)))
        if not alive:
            return None
        active = [entry for entry in alive if entry.get("active")]
        return {
            "active": bool(active),
            "calls_started": sum(int(entry.get("calls_started", 0)) for entry in active),
            "standby": len(alive) - len(active),
        }
