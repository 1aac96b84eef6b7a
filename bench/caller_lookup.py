"""Caller lookup: a caller id in any written form → the customer, at 10,000, 100,000 and
1,000,000 customers (one database grown in steps), so the curve shows it stays flat.

Real path: `crm.customers.service.find_by_phone` (normalisation of +86 / 0086 / trunk 0 /
area codes, then one round trip: the number's index, which holds its owner, the customer and
their phones as plain typed rows) — the campaign's check of a dialed number, and the owners
part of what a screen pop runs (`caller_card` reads the same owners with the first one's card
records in the same trip, so a pop's read is larger). Beside it, in the same loop:
the raw indexed `SELECT customer_id FROM phones WHERE number = :n` through the same session
(the floor), and the lookup as it was before issue 19 (ORM `Customer` entities with their
phones joined in), so before and after meet the same moments of a busy machine. Both on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from bench.common import finish, latency_summary, ratio, say, stopwatch
from bench.data import AREA_CODES, landline, load_customers, mobile, sample_indexes
from bench.databases import on_both
from crm.customers import service as customers
from crm.customers.models import Customer, Phone
from crm.db import Database
from crm.phones import lookup_key

GOAL_P99_MS = 0.5  # at the largest size
DEFAULT_AREA = "029"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (500, 2_000)

Case = tuple[str, str]  # raw caller id, the normalised number it must find ("" for none)


def written_forms(index: int, rng: random.Random) -> list[Case]:
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


async def entity_lookup(session: AsyncSession, raw: str) -> list[Customer]:
    """The lookup before issue 19: ORM entities, phones joined in (for comparison only)."""
    key = lookup_key(raw, default_area_code=DEFAULT_AREA)
    if key is None:
        return []
    query = (
        select(Customer)
        .join(Phone, Phone.customer_id == Customer.id)
        .where(Phone.number == key)
        .options(joinedload(Customer.phones))
        .order_by(Customer.id)
    )
    return list((await session.scalars(query)).unique())


async def timed_rounds(
    cases: list[Case], paths: Mapping[str, Callable[[Case], Awaitable[Any]]]
) -> tuple[dict[str, list[float]], list[Any]]:
    """Each case through every path in turn (all meet the same moments of a noisy machine):
    each path's latencies in seconds, and the first path's results."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    results: list[Any] = []
    first = next(iter(paths))
    for case in cases:
        for name, path in paths.items():
            start = time.perf_counter()
            result = await path(case)
            times[name].append(time.perf_counter() - start)
            if name == first:
                results.append(result)
    return times, results


async def _measure_size(database: Database, count: int, samples: int) -> dict[str, Any]:
    rng = random.Random(5)
    cases = [
        case for index in sample_indexes(count, samples // 4) for case in written_forms(index, rng)
    ][:samples]
    cases += [("13012345678x", ""), ("999", "")] * 5  # junk and unknown callers
    raw_select = text("SELECT customer_id FROM phones WHERE number = :n")
    async with database.session() as session:

        async def lookup(case: Case) -> bool:
            found = await customers.find_by_phone(session, case[0], default_area_code=DEFAULT_AREA)
            return not case[1] or any(p.number == case[1] for c in found for p in c.phones)

        async def raw(case: Case) -> None:
            (await session.execute(raw_select, {"n": case[1] or case[0]})).all()

        async def before(case: Case) -> None:
            await entity_lookup(session, case[0])

        paths = {"lookup": lookup, "raw": raw, "before": before}
        await timed_rounds(cases[:50], paths)  # warm the caches and the connection
        times, right = await timed_rounds(cases, paths)
    figures = {name: latency_summary(seconds) for name, seconds in times.items()}
    return {
        "customers": count,
        "lookup": figures["lookup"],
        "baseline": figures["raw"],
        "before": figures["before"],
        "wrong": right.count(False),
        "ratio_p99": ratio(figures["lookup"]["p99_ms"], figures["raw"]["p99_ms"]),
    }


async def _measure(url: str, sizes: tuple[int, ...], samples: int) -> dict[str, Any]:
    database = Database(url)
    kind = database.dialect
    curve: list[dict[str, Any]] = []
    try:
        loaded = 0
        for count in sizes:
            with stopwatch() as load:
                await load_customers(database, count, start=loaded)
            loaded = count
            point = await _measure_size(database, count, samples)
            point["load_seconds"] = round(load[0], 1)
            curve.append(point)
            say(
                f"  [{kind}] {count:>9,} customers (+{load[0]:.1f} s to load): find_by_phone "
                f"p50 {point['lookup']['p50_ms']:.3f} ms, p99 {point['lookup']['p99_ms']:.3f} ms"
                f"; raw p99 {point['baseline']['p99_ms']:.3f}; before p99 "
                f"{point['before']['p99_ms']:.3f} ms; {point['wrong']} wrong"
            )
    finally:
        await database.dispose()
    largest = curve[-1]
    met = largest["lookup"]["p99_ms"] < GOAL_P99_MS and all(p["wrong"] == 0 for p in curve)
    say(
        f"  [{kind}] p99 {largest['lookup']['p99_ms']:.3f} ms at {largest['customers']:,} "
        f"(goal < {GOAL_P99_MS} ms, none wrong): {'met' if met else 'NOT met'}; "
        f"{largest['ratio_p99']:.2f}× the raw SELECT, "
        f"{ratio(largest['before']['p99_ms'], largest['lookup']['p99_ms']):.2f}× faster than before"
    )
    return {
        **largest,
        "curve": curve,
        "ratio_before_p99": ratio(largest["before"]["p99_ms"], largest["lookup"]["p99_ms"]),
        "goal_met": met,
    }


def curve_table(results: dict[str, Any]) -> list[str]:
    """The curve as a Markdown table: one row per database and size."""
    lines = [
        "| database | customers | p50 ms | p99 ms | max ms | raw SELECT p99 ms | "
        "before (ORM entities) p99 ms | wrong |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        for point in results[kind]["curve"]:
            mine, raw, before = point["lookup"], point["baseline"], point["before"]
            lines.append(
                f"| {kind} | {point['customers']:,} | {mine['p50_ms']:.3f} | "
                f"{mine['p99_ms']:.3f} | {mine['max_ms']:.3f} | {raw['p99_ms']:.3f} | "
                f"{before['p99_ms']:.3f} | {point['wrong']} |"
            )
    return lines


def run(quick: bool = False) -> dict[str, Any]:
    sizes, samples = (QUICK_SIZES, 200) if quick else (SIZES, 4_000)
    say(
        f"Caller lookup: {', '.join(f'{s:,}' for s in sizes)} customers, {samples} lookups "
        "in every written form at each size"
    )
    results = on_both("bench_lookup", lambda url: _measure(url, sizes, samples))
    for line in curve_table(results):
        say(line)
    return finish("caller_lookup", {**results, "goal_p99_ms": GOAL_P99_MS})
