"""Shared fixtures: settings, a migrated database on SQLite and on a real PostgreSQL, a clock."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from crm.clock import FixedClock
from crm.db import Database
from crm.settings import Settings, load_settings
from crm.users import service as users_service
from migrations import upgrade
from tests.support.postgres import PostgresServer, PostgresUnavailable, start_server
from tests.support.redis import RedisServer, RedisUnavailable
from tests.support.redis import start_server as start_redis

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "ami"
ARTIFACTS = ROOT / "test-artifacts"
_names = itertools.count()
_made: list[str] = []  # the last test database made (by this process, on its own server)
# The Asterisk lab: fixtures `lab`/`scene`, the `asterisk` marker's run-or-say-why hooks;
# the browser tests' `browser` fixture (Debian's chromium through Playwright).
pytest_plugins = ["tests.lab.plugin", "tests.support.browser"]


def pytest_configure(config: pytest.Config) -> None:
    # Tests never read a developer's .env or CALLCENTRE_* variables by accident.
    for key in list(os.environ):
        if key.startswith("CALLCENTRE_"):
            del os.environ[key]
    os.environ["CALLCENTRE_SECRET_KEY"] = "test-secret-key-for-tests-only"
    _cheap_password_hashes()


def _cheap_password_hashes() -> None:
    """argon2 at its lowest cost in the test processes. At the product's (64 MiB, ~50 ms idle,
    ~0.5 s on a loaded machine) every user a test makes and every login costs that: seconds of
    setup per API or browser test, minutes per run. Still argon2, through the same functions
    (hash, verify, the dummy hash for unknown users, rehash on login); a server the tests
    start as its own process keeps the product's cost and rehashes such a hash on login."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    users_service._hasher = cheap
    users_service._DUMMY_HASH = cheap.hash("not-a-real-password")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`--dist loadgroup`, the default addopts) some tests run on one
    worker: those against the Asterisk lab (one Asterisk on fixed ports, its phones reset by
    each test), and those sharing a module-scoped fixture (a cluster of processes, a speech
    model), which each worker would otherwise build again."""
    for item in items:
        if item.get_closest_marker("asterisk"):
            item.add_marker(pytest.mark.xdist_group("asterisk-lab"))
        elif isinstance(item, pytest.Function) and any(
            definition.scope == "module"
            for definitions in item._fixtureinfo.name2fixturedefs.values()
            for definition in definitions
        ):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run. Missing PostgreSQL fails, never skips: the
    README's test command installs it, and both databases are part of the contract."""
    try:
        server = start_server()
    except PostgresUnavailable as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the whole run. Missing Redis fails, never skips: the README's test
    command installs it, like PostgreSQL."""
    try:
        server = start_redis()
    except RedisUnavailable as exc:
        pytest.fail(f"cannot start the test Redis server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(postgres: PostgresServer) -> str:
    """A PostgreSQL database migrated to head, copied for each test."""
    postgres.psql("CREATE DATABASE migrated_template")
    upgrade(postgres.url("migrated_template"))
    return "migrated_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def _sqlite_url(template: Path, tmp_path: Path) -> str:
    path = tmp_path / "callcentre.db"
    shutil.copyfile(template, path)
    return f"sqlite+aiosqlite:///{path}"


def _pg_url(postgres: PostgresServer, template: str) -> str:
    # The database of the test before is dropped as the next is made (in the same psql): a run
    # keeps one test database per server, not hundreds (~8 MB each: gigabytes of disk, and
    # seconds to delete them all when the server stops).
    name = f"test_{os.getpid()}_{next(_names)}"
    statements = [f"DROP DATABASE IF EXISTS {before} WITH (FORCE)" for before in _made]
    postgres.psql(*statements, f"CREATE DATABASE {name} TEMPLATE {template}")
    _made[:] = [name]
    return postgres.url(name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database: every test using it runs on both backends."""
    if request.param == "sqlite":
        return _sqlite_url(request.getfixturevalue("sqlite_template"), tmp_path)
    return _pg_url(request.getfixturevalue("postgres"), request.getfixturevalue("pg_template"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A freshly migrated SQLite database, for tests that need only one backend."""
    return _sqlite_url(sqlite_template, tmp_path)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The host's free disk space is not under test (tests/test_recordings_disk.py sets its own
    # warning level over a fake disk): a nearly full CI machine must not turn /healthz degraded.
    return load_settings(database_url=database_url, default_area_code="029", disk_warn_percent=0)


@pytest.fixture
def clock() -> FixedClock:
    # A Monday morning in Shanghai.
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
