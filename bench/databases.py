"""The two databases a benchmark runs on: a SQLite file and a throwaway PostgreSQL server
(the test suite's, `tests/support/postgres.py`), each migrated to head."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
