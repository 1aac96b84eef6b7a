"""A lock held for as long as a process does one job that must run once per database (the
dialer). PostgreSQL: a session advisory lock on a connection kept open, so it is released
the moment that process or its connection dies. SQLite: an exclusive file lock beside the
database file, released when the process dies."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from crm.db import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable 63-bit key for pg_advisory_lock from a readable name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") & (2**63 - 1)


class DatabaseLock:
    def __init__(self, database: Database, name: str) -> None:
        self.database = database
        self.name = name
        self._connection: AsyncConnection | None = None
        self._file: IO[bytes] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None or self._file is not None

    async def acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it."""
        if self.held:
            return True
        if self.database.dialect == "postgresql":
            return await self._acquire_advisory()
        return self._acquire_file()

    async def still_held(self) -> bool:
        """Whether we still hold it (a dead PostgreSQL connection means we do not)."""
        if self._connection is None:
            return self._file is not None
        try:
            await self._connection.execute(text("SELECT 1"))
            return True
        except Exception:
            log.warning("lost the %s lock: its database connection failed", self.name)
            await self.release()
            return False

    async def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key(self.name)}
                )
            with contextlib.suppress(Exception):
                await connection.close()
        handle, self._file = self._file, None
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    async def _acquire_advisory(self) -> bool:
        connection = await self.database.engine.connect()
        try:
            taken = (
                await connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": lock_key(self.name)}
                )
            ).scalar()
            await connection.commit()
        except Exception:
            await connection.close()
            raise
        if not taken:
            await connection.close()
            return False
        self._connection = connection
        return True

    def _acquire_file(self) -> bool:
        database = make_url(self.database.url).database
        if database in (None, "", ":memory:"):
            path = Path(f"/tmp/callcentre-{os.getuid()}-{self.name}.lock")
        else:
            path = Path(f"{database}.{self.name}.lock")
        handle = path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True
