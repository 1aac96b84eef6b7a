"""Caller lookup: a caller id in any written form → the customer, at 1,000,000 customers.

Real path: `crm.customers.service.find_by_phone` (normalisation of +86 / 0086 / trunk 0 /
area codes, then the indexed equality on `phones.number` and the customer with its phones)
— what a screen pop runs. Baseline: a raw indexed `SELECT customer_id FROM phones WHERE
number = :n` on the same table through the same session. Both on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import text

from bench.common import finish, latency_summary, ratio, say, stopwatch, timed_pairs
from bench.data import AREA_CODES, landline, load_customers, mobile, sample_indexes
from bench.databases import on_both
from crm.customers import service as customers
from crm.db import Database

GOAL_P99_MS = 2.0
DEFAULT_AREA = "029"


def written_forms(index: int, rng: random.Random) -> list[tuple[str, str]]:
    """(raw caller id, the normalised number it must find) in the forms callers arrive in."""
    number = mobile(index)
    forms = [
        number,
        f"+86 {number[:3]} {number[3:7]} {number[7:]}",
        f"0086{number}",
        f"0{number}",
        f"86-{number}",
        f"+86{number}",
    ]
    out = [(form, number) for form in forms]
    if index % 3 == 0:  # has a landline too
        line = landline(index)
        area = next(a for a in AREA_CODES if line.startswith(a))
        subscriber = line[len(area) :]
        out += [
            (line, line),
            (f"{area}-{subscriber}", line),
            (f"+86 {area[1:]} {subscriber}", line),
            (f"0086{area[1:]}{subscriber}", line),
            (f"({area}){subscriber}", line),
        ]
        if area == f"{DEFAULT_AREA}":
            out.append((subscriber, line))  # a local call: the default area code applies
    rng.shuffle(out)
    return out


async def _measure(url: str, count: int, samples: int) -> dict[str, Any]:
    database = Database(url)
    rng = random.Random(5)
    try:
        with stopwatch() as load:
            await load_customers(database, count)
        say(f"  [{database.dialect}] {count:,} customers loaded in {load[0]:.1f} s")
        cases = [
            case
            for index in sample_indexes(count, samples // 4)
            for case in written_forms(index, rng)
        ][:samples]
        cases += [("13012345678x", ""), ("999", "")] * 5  # junk and unknown callers
        lookup = text("SELECT customer_id FROM phones WHERE number = :n")
        async with database.session() as session:
            for form, _ in cases[:50]:  # warm the caches and the connection
                await customers.find_by_phone(session, form, default_area_code=DEFAULT_AREA)

            async def real_lookup(case: tuple[str, str]) -> bool:
                found = await customers.find_by_phone(
                    session, case[0], default_area_code=DEFAULT_AREA
                )
                return not case[1] or any(p.number == case[1] for c in found for p in c.phones)

            async def raw_lookup(case: tuple[str, str]) -> None:
                (await session.execute(lookup, {"n": case[1] or case[0]})).all()

            real, raw, right = await timed_pairs(cases, real_lookup, raw_lookup)
        wrong = right.count(False)
        mine, base = latency_summary(real), latency_summary(raw)
        say(
            f"  [{database.dialect}] find_by_phone: p50 {mine['p50_ms']:.3f} ms, "
            f"p99 {mine['p99_ms']:.3f} ms, max {mine['max_ms']:.3f} ms "
            f"({len(real)} lookups, {wrong} wrong)"
        )
        say(
            f"  [{database.dialect}] raw indexed SELECT: p50 {base['p50_ms']:.3f} ms, "
            f"p99 {base['p99_ms']:.3f} ms, max {base['max_ms']:.3f} ms"
        )
        met = mine["p99_ms"] < GOAL_P99_MS and wrong == 0
        say(
            f"  [{database.dialect}] p99 {mine['p99_ms']:.3f} ms (goal < {GOAL_P99_MS} ms, "
            f"none wrong): {'met' if met else 'NOT met'}; "
            f"{ratio(mine['p99_ms'], base['p99_ms']):.2f}× the raw SELECT"
        )
        return {
            "customers": count,
            "load_seconds": round(load[0], 1),
            "lookup": mine,
            "baseline": base,
            "wrong": wrong,
            "ratio_p99": ratio(mine["p99_ms"], base["p99_ms"]),
            "goal_met": met,
        }
    finally:
        await database.dispose()


def run(quick: bool = False) -> dict[str, Any]:
    count, samples = (2_000, 200) if quick else (1_000_000, 4_000)
    say(f"Caller lookup: {count:,} customers, {samples} lookups in every written form")
    results = on_both("bench_lookup", lambda url: _measure(url, count, samples))
    return finish("caller_lookup", {**results, "goal_p99_ms": GOAL_P99_MS})
