"""`one_of`: list membership whose SQL text is one statement whatever the list's length on
PostgreSQL (crm/one_of.py), and the same rows as `in_` on both databases."""

from __future__ import annotations

from sqlalchemy import select, union_all

from crm.db import Database
from crm.one_of import one_of
from crm.users import service as users
from crm.users.models import Role, User
from tests.support.statements import statements

EXTENSIONS = [f"8{n:03d}" for n in range(12)]


async def _agents_and_supervisors(db: Database) -> None:
    async with db.session() as session:
        for n, extension in enumerate(EXTENSIONS):
            await users.create(
                session,
                username=f"user{n}",
                password="a-long-enough-password",
                display_name=f"User {n}",
                role=Role.AGENT if n % 3 else Role.SUPERVISOR,
                extension=extension,
            )
        await session.commit()


async def test_one_of_finds_what_in_finds_whatever_the_length(db: Database) -> None:
    await _agents_and_supervisors(db)
    async with db.session() as session:
        for length in range(len(EXTENSIONS) + 1):
            wanted = [*EXTENSIONS[:length], "9999"]  # and one nobody has
            mine = await session.scalars(
                select(User.extension).where(one_of(User.extension, wanted)).order_by(User.id)
            )
            theirs = await session.scalars(
                select(User.extension).where(User.extension.in_(wanted)).order_by(User.id)
            )
            assert list(mine) == list(theirs) == EXTENSIONS[:length]


async def test_a_statement_built_once_gets_each_executions_values(db: Database) -> None:
    """The compiled statement is cached: each execution's list must reach it, not the first's."""
    await _agents_and_supervisors(db)
    query = select(User.extension).where(one_of(User.extension, "wanted")).order_by(User.id)
    async with db.session() as session:
        for wanted in (EXTENSIONS[:2], EXTENSIONS[5:9], [], EXTENSIONS[11:]):
            assert list(await session.scalars(query, {"wanted": wanted})) == wanted
        for wanted in (EXTENSIONS[:2], EXTENSIONS[5:9], EXTENSIONS[11:]):  # built anew each time
            fresh = select(User.extension).where(one_of(User.extension, wanted)).order_by(User.id)
            assert list(await session.scalars(fresh)) == wanted


async def test_enums_negation_and_a_parameter_used_twice(db: Database) -> None:
    await _agents_and_supervisors(db)
    supervisors = [e for n, e in enumerate(EXTENSIONS) if n % 3 == 0]
    async with db.session() as session:
        by_role = select(User.extension).where(one_of(User.role, [Role.SUPERVISOR, Role.QA]))
        assert sorted(str(e) for e in await session.scalars(by_role)) == supervisors
        not_in = select(User.extension).where(
            ~one_of(User.role, [Role.AGENT]), one_of(User.extension, EXTENSIONS[:7])
        )
        assert sorted(str(e) for e in await session.scalars(not_in)) == supervisors[:3]
        # One parameter in two places (as the dialer's recent numbers), and a second one.
        both = union_all(
            select(User.username).where(one_of(User.extension, "wanted")),
            select(User.username).where(one_of(User.extension, "wanted")),
            select(User.username).where(one_of(User.username, "names")),
        )
        rows = await session.scalars(both, {"wanted": EXTENSIONS[:1], "names": ["user3"]})
        assert sorted(rows) == ["user0", "user0", "user3"]


async def test_postgresql_sees_one_statement_for_every_length(db: Database) -> None:
    """What keeps a pooled connection's prepared statements few: on PostgreSQL one text for
    every length (one `= ANY` array); SQLite keeps its `IN` list, one text per length."""
    await _agents_and_supervisors(db)
    lengths = range(1, len(EXTENSIONS) + 1)
    with statements(db) as sent:
        async with db.session() as session:
            for length in lengths:
                query = select(User.id).where(one_of(User.extension, EXTENSIONS[:length]))
                assert len(list(await session.scalars(query))) == length
    assert len(set(sent)) == (1 if db.dialect == "postgresql" else len(lengths)), set(sent)
