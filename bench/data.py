"""Bulk data for the benchmarks: customers with phones, written with executemany (or COPY on
PostgreSQL), never through the ORM one object at a time."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import text

from crm.db import Database

AREA_CODES = ("010", "021", "029", "0755", "0571", "028")
MOBILE_PREFIXES = ("130", "133", "135", "136", "138", "139", "150", "158", "177", "186", "189")
BATCH = 20_000
# The columns bulk_insert writes of the projects and callback tasks the benchmarks make.
PROJECT_COLUMNS = (
    "id",
    "customer_id",
    "contract_number",
    "address",
    "designer",
    "project_manager",
    "foreman",
    "crew",
    "contract_date",
    "start_date",
    "concealed_works_date",
    "midterm_date",
    "completion_date",
    "status",
    "created_at",
    "updated_at",
)
TASK_COLUMNS = (
    "id",
    "project_id",
    "stage",
    "month",
    "due_date",
    "latest_date",
    "priority",
    "status",
    "attempt_count",
    "not_before",
    "effective",
    "effective_at",
    "created_at",
    "updated_at",
)


def mobile(index: int) -> str:
    """A distinct 11-digit mobile number for every index below 10^8."""
    return f"{MOBILE_PREFIXES[index % len(MOBILE_PREFIXES)]}{index:08d}"


def landline(index: int) -> str:
    """A distinct landline (area code + 8-digit subscriber starting 2-8) per index < 7*10^7."""
    area = AREA_CODES[index % len(AREA_CODES)]
    subscriber = 20_000_000 + index % 70_000_000
    return f"{area}{subscriber}"


def customer_rows(start: int, stop: int, now: datetime) -> Iterator[dict[str, Any]]:
    grades = ("A", "B", "B", "C")
    for i in range(start, stop):
        yield {
            "id": i + 1,
            "name": f"客户{i + 1}",
            "address": f"雁塔区科技路{i % 500 + 1}号",
            "grade": grades[i % 4],
            "notes": "",
            "do_not_call": i % 50 == 0,
            "created_at": now,
            "updated_at": now,
        }


def phone_rows(start: int, stop: int, *, landline_every: int = 3) -> Iterator[dict[str, Any]]:
    """One mobile per customer, plus a landline for every `landline_every`-th one."""
    phone_id = start * 2
    for i in range(start, stop):
        phone_id += 1
        yield {
            "id": phone_id,
            "customer_id": i + 1,
            "number": mobile(i),
            "extension": None,
            "kind": "mobile",
            "raw": mobile(i),
            "label": "",
        }
        phone_id += 1
        if i % landline_every == 0:
            yield {
                "id": phone_id,
                "customer_id": i + 1,
                "number": landline(i),
                "extension": None,
                "kind": "landline",
                "raw": landline(i),
                "label": "",
            }


async def bulk_insert(
    database: Database, table: str, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> None:
    """Rows into `table`: COPY on PostgreSQL, executemany in batches on SQLite."""
    if database.dialect == "postgresql":
        async with database.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection  # asyncpg
            assert driver is not None
            for batch in batched(rows, 100_000):
                await driver.copy_records_to_table(
                    table,
                    records=[tuple(row[c] for c in columns) for row in batch],
                    columns=list(columns),
                )
            await connection.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            )
            await connection.execute(text(f"ANALYZE {table}"))
            await connection.commit()
        return
    # SQLite: the driver's executemany on plain tuples, values stored as SQLAlchemy stores
    # them (naive UTC timestamps, ISO dates, 0/1); its per-row type processing would triple
    # the load time.
    statement = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    )
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection  # aiosqlite
        assert driver is not None
        # A big page cache for the load: with SQLite's default 2 MB, every row's entries in
        # the table's secondary indexes (random order) went to disk and back.
        await driver.execute("PRAGMA cache_size = -262144")
        for batch in batched(rows, BATCH):
            await driver.executemany(
                statement, [tuple(_sqlite(row[c]) for c in columns) for row in batch]
            )
        await driver.execute(f"ANALYZE {table}")
        await driver.commit()
        await driver.execute("PRAGMA cache_size = -2000")  # back to the default for the reads


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


CUSTOMER_COLUMNS = (
    "id",
    "name",
    "address",
    "grade",
    "notes",
    "do_not_call",
    "created_at",
    "updated_at",
)
PHONE_COLUMNS = ("id", "customer_id", "number", "extension", "kind", "raw", "label")


async def load_customers(database: Database, count: int, *, start: int = 0) -> None:
    """Customers `start` to `count` (indexes) with their phones: a database grown in steps
    (10k, then 100k, then 1M) gets the same customers as one loaded at once."""
    now = datetime.now(UTC)
    await bulk_insert(database, "customers", CUSTOMER_COLUMNS, customer_rows(start, count, now))
    await bulk_insert(database, "phones", PHONE_COLUMNS, phone_rows(start, count))


def batched(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def sample_indexes(count: int, samples: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(count) for _ in range(samples)]
