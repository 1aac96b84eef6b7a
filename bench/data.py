"""Bulk data for the benchmarks: customers with phones, written with executemany (or COPY on
PostgreSQL), never through the ORM one object at a time."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text

from crm.customers.models import Customer, Phone
from crm.db import Database

AREA_CODES = ("010", "021", "029", "0755", "0571", "028")
MOBILE_PREFIXES = ("130", "133", "135", "136", "138", "139", "150", "158", "177", "186", "189")
BATCH = 20_000


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
        yield {"id": i + 1, "name": f"客户{i + 1}", "address": f"雁塔区科技路{i % 500 + 1}号",
               "grade": grades[i % 4], "notes": "", "do_not_call": i % 50 == 0,
               "created_at": now, "updated_at": now}


def phone_rows(start: int, stop: int, *, landline_every: int = 3) -> Iterator[dict[str, Any]]:
    """One mobile per customer, plus a landline for every `landline_every`-th one."""
    phone_id = start * 2
    for i in range(start, stop):
        phone_id += 1
        yield {"id": phone_id, "customer_id": i + 1, "number": mobile(i), "extension": None,
               "kind": "mobile", "raw": mobile(i), "label": ""}
        phone_id += 1
        if i % landline_every == 0:
            yield {"id": phone_id, "customer_id": i + 1, "number": landline(i),
                   "extension": None, "kind": "landline", "raw": landline(i), "label": ""}


async def load_customers(database: Database, count: int) -> None:
    """`count` customers with their phones, in batches (COPY on PostgreSQL)."""
    now = datetime.now(UTC)
    if database.dialect == "postgresql":
        await _copy_customers(database, count, now)
        return
    for start in range(0, count, BATCH):
        stop = min(count, start + BATCH)
        async with database.session() as session:
            await session.execute(insert(Customer), list(customer_rows(start, stop, now)))
            await session.execute(insert(Phone), list(phone_rows(start, stop)))


async def _copy_customers(database: Database, count: int, now: datetime) -> None:
    columns = {"customers": ["id", "name", "address", "grade", "notes", "do_not_call",
                             "created_at", "updated_at"],
               "phones": ["id", "customer_id", "number", "extension", "kind", "raw", "label"]}
    async with database.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection  # asyncpg
        assert driver is not None
        for start in range(0, count, 100_000):
            stop = min(count, start + 100_000)
            for table, rows in (("customers", customer_rows(start, stop, now)),
                                ("phones", phone_rows(start, stop))):
                records = [tuple(row[c] for c in columns[table]) for row in rows]
                await driver.copy_records_to_table(table, records=records,
                                                   columns=columns[table])
        for table in ("customers", "phones"):
            await connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"))
        await connection.execute(text("ANALYZE customers"))
        await connection.execute(text("ANALYZE phones"))
        await connection.commit()


def sample_indexes(count: int, samples: int, seed: int = 7) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(count) for _ in range(samples)]
