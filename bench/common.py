"""What every benchmark shares: percentiles, a stopwatch, a throwaway migrated database, the
helper processes it talks to by lines of JSON, and the one JSON line a benchmark ends with."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

Case = TypeVar("Case")
Result = TypeVar("Result")

ROOT = Path(__file__).resolve().parents[1]
# The real-Asterisk captures the AMI benchmarks replay, kept in the repository (README there).
FIXTURES = ROOT / "bench" / "captures"


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of non-empty `values`."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/max in milliseconds, rounded for reading."""
    return {
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 3),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 3),
        "max_ms": round(max(seconds) * 1000, 3),
        "samples": len(seconds),
    }


async def timed_pairs(
    cases: Iterable[Case],
    real: Callable[[Case], Awaitable[Result]],
    baseline: Callable[[Case], Awaitable[object]],
) -> tuple[list[float], list[float], list[Result]]:
    """Each case through `real`, then through `baseline`, one after the other (so both meet
    the same moments of a noisy machine): both latencies in seconds, and real's results."""
    real_times: list[float] = []
    baseline_times: list[float] = []
    results: list[Result] = []
    for case in cases:
        start = time.perf_counter()
        results.append(await real(case))
        real_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        await baseline(case)
        baseline_times.append(time.perf_counter() - start)
    return real_times, baseline_times, results


def say(line: str) -> None:
    print(line, flush=True)


def finish(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Print the benchmark's JSON line (its last line) and return it."""
    result = {"benchmark": name, **figures}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as elapsed:` … `elapsed[0]` is the wall time in seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"callcentre-bench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def migrated_sqlite(directory: Path) -> str:
    """A SQLite database at head, as `callcentre db upgrade` leaves it."""
    from migrations import upgrade

    url = f"sqlite+aiosqlite:///{directory / 'bench.db'}"
    upgrade(url)
    return url


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 4) if baseline else float("nan")


def python() -> str:
    return sys.executable


def spawn(module: str, *args: str) -> subprocess.Popen[str]:
    """A helper process (`python -m module args`) from the repository's root, talked to by
    lines: commands on its stdin, JSON lines on its stdout."""
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


async def read_line(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The helper's next JSON line (without blocking the loop); its exit is an error."""
    assert process.stdout is not None
    line = await asyncio.to_thread(process.stdout.readline)
    if not line:
        raise RuntimeError(f"{process.args!r} exited with {process.wait()}")
    return dict(json.loads(line))


def tell(process: subprocess.Popen[str], line: str) -> None:
    """One command line to the helper."""
    assert process.stdin is not None
    process.stdin.write(line + "\n")
    process.stdin.flush()
