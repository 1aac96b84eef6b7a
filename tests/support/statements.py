"""The SQL statements a piece of code sends: for tests that hold a path to its number of trips
to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from crm.db import Database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement sent through `db`'s engines while the block runs, in order."""
    sent: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    for engine in db.engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        for engine in db.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count)
