"""The one database layer: declarative base, column types, engine and session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import DateTime, Dialect, MetaData, event, text
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from crm import sqlite_driver
from crm.clock import row_stamp

# Stable constraint names, so Alembic migrations say the same thing on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned timezone-aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_cls: type[Enum], *, length: int = 32) -> SAEnum:
    """A portable enum column: VARCHAR holding the member's value, validated by the ORM."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=row_stamp)
    updated_at: Mapped[datetime] = mapped_column(default=row_stamp, onupdate=row_stamp)


def insert_for(session: AsyncSession) -> Any:
    """The session's database's own INSERT, which can say ON CONFLICT (both dialects spell
    it alike): `insert_for(session)(Model).values(...).on_conflict_do_nothing(...)`."""
    return dialect_insert(session.get_bind().dialect.name)


def dialect_insert(dialect: str) -> Any:
    """The INSERT of the dialect named (`postgresql` or `sqlite`), with ON CONFLICT."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def ensure_sqlite_directory(url: str) -> None:
    """Create the directory of a SQLite file so a fresh checkout starts without set-up."""
    if _sqlite_file(url):
        Path(str(make_url(url).database)).expanduser().parent.mkdir(parents=True, exist_ok=True)


SQLITE_POOL_SIZE = 16  # connections kept open to a SQLite file


def _sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def create_engine(url: str, *, echo: bool = False, reads: bool = False) -> AsyncEngine:
    """The process's engine; with `reads` (PostgreSQL only), the engine of Database.read."""
    ensure_sqlite_directory(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("postgresql"):
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        if reads:
            kwargs.update(
                isolation_level="AUTOCOMMIT",
                # A write through it fails at the server instead of committing at once.
                connect_args={"server_settings": {"default_transaction_read_only": "on"}},
            )
    elif _sqlite_file(url):
        # Keep as many connections as a burst of screen pops uses at once, with the call
        # store, the agent states and the wallboard beside them. With the default 5, every
        # connection beyond them was opened (a thread, the file, four PRAGMAs) and closed again
        # within a burst: 145 opened for 240 sessions in bursts of 12.
        kwargs.update(pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_SIZE)
    if make_url(url).get_backend_name() == "sqlite":
        kwargs["module"] = sqlite_driver.dbapi()  # a statement in one trip to its thread
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        import crm.models  # noqa: F401 - every table must be known before the first flush

        self.url = url
        self.engine = create_engine(url, echo=echo)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Database.read's: on PostgreSQL an engine of its own (no connection until used).
        self.read_engine = (
            create_engine(url, echo=echo, reads=True) if self.dialect == "postgresql" else None
        )
        self._reads = (
            async_sessionmaker(self.read_engine, expire_on_commit=False)
            if self.read_engine is not None
            else None
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for a read that needs no transaction around it: one statement, or
        statements each right on its own (a screen pop's card, an agent's state).

        On PostgreSQL its connections are in autocommit and read-only: the read costs its
        statements' round trips and no more, where a session's costs BEGIN and COMMIT too,
        and the pool's check of a connection one round trip instead of three (asyncpg pings
        inside a transaction of its own). Those were two thirds of a pop's trips. On SQLite
        a read opens no transaction anyway (crm/sqlite_driver.py): it is a plain session."""
        if self._reads is None:
            async with self.session() as session:
                yield session
            return
        async with self._reads() as session:
            yield session

    async def schema_revision(self) -> str | None:
        """The Alembic revision the schema is at; raises when the database cannot be reached
        or was never migrated (no version table)."""
        async with self.engine.connect() as connection:
            result = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return result.scalar()

    @property
    def engines(self) -> tuple[AsyncEngine, ...]:
        """Every engine of this database (the process's, and the reads' when it has one)."""
        return (self.engine,) if self.read_engine is None else (self.engine, self.read_engine)

    async def dispose(self) -> None:
        for engine in self.engines:
            await engine.dispose()
