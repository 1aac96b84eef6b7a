"""Database writes that must not be lost when the database goes away for a while.

A follow-up of a PBX event (an attempt's outcome, an agent's wrap-up) happens once: if its
write fails because the database is unreachable, nobody will ask again. Such writes go
through `through_outage`, which waits for the database to come back; any other error (a
bug, a constraint) is raised at once, as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger(__name__)

T = TypeVar("T")


def database_unavailable(exc: BaseException) -> bool:
    """Whether the error says the database cannot be reached (refused, restarting, a
    connection cut), as opposed to the statement being wrong."""
    if isinstance(exc, OSError | TimeoutError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return False


async def through_outage(
    operation: Callable[[], Awaitable[T]], *, what: str, max_delay: float = 5.0
) -> T:
    """Run `operation` until it gets through, retrying (with backoff) only while the
    database is unreachable."""
    delay = 0.25
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning(
                "%s: the database is unreachable (%s); retrying in %.1f s",
                what,
                type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)
