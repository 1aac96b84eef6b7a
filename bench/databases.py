"""The two databases a benchmark runs on: a SQLite file and a throwaway PostgreSQL server
(the test suite's, `tests/support/postgres.py`), each migrated to head."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from bench.common import migrated_sqlite, say, scratch_dir


@contextmanager
def sqlite_database(name: str) -> Iterator[str]:
    with scratch_dir(name) as directory:
        yield migrated_sqlite(directory)


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    from migrations import upgrade
    from tests.support.postgres import start_server

    server = start_server()
    try:
        server.psql(f"CREATE DATABASE {name}")
        url = server.url(name)
        upgrade(url)
        yield url
    finally:
        server.stop()


@contextmanager
def database(kind: str, name: str) -> Iterator[str]:
    """A migrated, empty database of `kind` (sqlite | postgresql); its URL."""
    say(f"  [{kind}] starting a migrated database")
    opener = sqlite_database if kind == "sqlite" else postgres_database
    with opener(name) as url:
        yield url


def on_both(
    name: str, measure: Callable[[str], Coroutine[Any, Any, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """`measure(url)` on a fresh SQLite database, then on a fresh PostgreSQL one; each
    result by kind, and `goal_met` if both met theirs."""
    results: dict[str, Any] = {}
    for kind in ("sqlite", "postgresql"):
        with database(kind, name) as url:
            results[kind] = asyncio.run(measure(url))
    return {**results, "goal_met": all(r["goal_met"] for r in results.values())}
