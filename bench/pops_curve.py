"""Screen pops' cost curve: p50/p99 as the agents connected and the calls a second grow, in one
web process and in two.

Each point is a run of `bench.screen_pops`'s real path (simulator → AMI → bridge → card →
websocket) on PostgreSQL: one process doing everything, then production's topology (a bridge
and two web processes through Redis, the agents' websockets split between them). Agents ×
calls a second: 100, 500 and 2,000 × 5, 20 and 50. A point where the agents cannot take the
calls (each call holds its agent `screen_pops.ANSWER_AFTER` s ringing + 3 s talking + 1 s:
100 agents take at most ≈14 calls/s) is skipped and says so. Printed as a table and drawn as
`bench/pops_curve.png` (matplotlib: the `bench` extra); the last line is the JSON of every
point.

`python -m bench.pops_curve [--quick] [--seconds S] [--plot FILE]`
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, finish, say
from bench.screen_pops import ANSWER_AFTER, GOAL_MAX_MS, GOALS_P99_MS, measure

AGENTS = (100, 500, 2000)
RATES = (5.0, 20.0, 50.0)
TALK_SECONDS = 3.0  # bench/pops_pbx.py's default
TOPOLOGIES = ("single", "cluster")
PLOT = ROOT / "bench" / "pops_curve.png"


def feasible(agents: int, rate: float) -> bool:
    """Whether `agents` can take `rate` calls a second, each ringing a free agent at once."""
    return agents >= rate * (ANSWER_AFTER + TALK_SECONDS + 1.0)


def _table(points: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| agents | calls/s | one process p50 / p99 / max (ms) | bridge + 2 web p50 / p99 / "
        "max (ms) |",
        "|---:|---:|---|---|",
    ]
    by_key = {(p["agents"], p["calls_per_second"], p["topology"]): p for p in points}
    for agents in sorted({p["agents"] for p in points}):
        for rate in sorted({p["calls_per_second"] for p in points}):
            cells = []
            for topology in TOPOLOGIES:
                point = by_key.get((agents, rate, topology))
                if point is None:
                    continue
                cells.append(_cell(point))
            if cells:
                lines.append(f"| {agents:,} | {rate:g} | {' | '.join(cells)} |")
    return lines


def _cell(point: dict[str, Any]) -> str:
    if point.get("skipped"):
        return f"— ({point['skipped']})"
    pop = point["pop"]
    text = f"{pop['p50_ms']:.1f} / **{pop['p99_ms']:.1f}** / {pop['max_ms']:.0f}"
    if point["late"] or point["lost"]:
        text += f" ({point['late']} late, {point['lost']} lost)"
    return text


def _plot(points: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    measured = [p for p in points if not p.get("skipped")]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for axis, topology in zip(axes, TOPOLOGIES, strict=True):
        for agents, colour in zip(sorted({p["agents"] for p in measured}), "bgr", strict=False):
            mine = sorted(
                (p for p in measured if p["topology"] == topology and p["agents"] == agents),
                key=lambda p: p["calls_per_second"],
            )
            if not mine:
                continue
            rates = [p["calls_per_second"] for p in mine]
            axis.plot(
                rates,
                [p["pop"]["p99_ms"] for p in mine],
                f"{colour}-o",
                label=f"{agents:,} agents p99",
            )
            axis.plot(
                rates,
                [p["pop"]["p50_ms"] for p in mine],
                f"{colour}--.",
                label=f"{agents:,} agents p50",
            )
        axis.axhline(GOALS_P99_MS[topology], color="k", linewidth=0.8, linestyle=":")
        axis.set_title(
            "one process (PostgreSQL)" if topology == "single" else "bridge + two web processes"
        )
        axis.set_xlabel("new calls a second")
        axis.set_yscale("log")
        axis.grid(True, which="both", linewidth=0.3)
    axes[0].set_ylabel("AgentCalled → pop (ms)")
    axes[1].legend(fontsize=7, loc="upper left")
    figure.suptitle(f"Screen pops: latency by load (dotted: p99 goal; max goal {GOAL_MAX_MS:g} ms)")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def run(
    quick: bool = False, *, seconds: float | None = None, plot: Path | None = None
) -> dict[str, Any]:
    # Quick: one point a topology and one skipped (the smoke test sees both kinds).
    agents_grid, rates = ((10, 20), (2.0,)) if quick else (AGENTS, RATES)
    seconds = seconds or (2.0 if quick else 10.0)
    say(
        f"Screen pops' cost curve: {', '.join(f'{a:,}' for a in agents_grid)} agents × "
        f"{', '.join(f'{r:g}' for r in rates)} calls/s, {seconds:g} s each, PostgreSQL, one "
        "process and bridge + two web processes"
    )
    points: list[dict[str, Any]] = []
    for topology in TOPOLOGIES:
        for agents in agents_grid:
            for rate in rates:
                if not feasible(agents, rate):
                    points.append(
                        {
                            "topology": topology,
                            "agents": agents,
                            "calls_per_second": rate,
                            "skipped": f"{agents} agents take ≈{agents / 7:.0f} calls/s",
                        }
                    )
                    continue
                point = measure(
                    agents, rate, seconds, database="postgresql", cluster=topology == "cluster"
                )
                pop = point["pop"]
                say(
                    f"  {topology:7} {agents:5,} agents {rate:4g} calls/s: p50 "
                    f"{pop['p50_ms']:.1f} ms, p99 {pop['p99_ms']:.1f} ms, max "
                    f"{pop['max_ms']:.0f} ms, {point['late']} late, {point['lost']} lost"
                )
                points.append(point)
    for line in _table(points):
        say(line)
    # A quick run draws too (the smoke test sees the plot made), but not over the real one.
    out = plot or (Path(tempfile.gettempdir()) / "pops_curve_quick.png" if quick else PLOT)
    _plot(points, out)
    say(f"  plot: {out}")
    complete = [p for p in points if not p.get("skipped")]
    return finish(
        "pops_curve",
        {
            "database": "postgresql",
            "seconds": seconds,
            "points": points,
            "plot": str(out),
            "none_late_or_lost": all(not p["late"] and not p["lost"] for p in complete),
            "goal_met": all(
                not p["late"] and not p["lost"] and not math.isnan(p["pop"]["p99_ms"])
                for p in complete
            ),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pops_curve")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, help="of calls at each point (default 10)")
    parser.add_argument("--plot", type=Path, help=f"where the PNG goes (default {PLOT})")
    args = parser.parse_args()
    run(args.quick, seconds=args.seconds, plot=args.plot)


if __name__ == "__main__":
    main()
