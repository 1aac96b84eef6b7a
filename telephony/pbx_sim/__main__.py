"""`python -m telephony.pbx_sim`: run the simulated PBX from a shell (demos, manual testing)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from telephony.pbx_sim.config import SimulatorConfig, StaticMember
from telephony.pbx_sim.server import run_simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m telephony.pbx_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--user", default="callcentre")
    parser.add_argument("--secret", default="callcentre")
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calls-per-minute", type=float, default=0.0)
    parser.add_argument("--caller", action="append", default=[], help="a known caller's number")
    parser.add_argument(
        "--member", action="append", default=[], metavar="QUEUE:EXTENSION",
        help="a static queue member, e.g. service:1001",
    )  # fmt: skip
    parser.add_argument("--recordings-dir", type=Path, default=Path("./var/recordings"))
    parser.add_argument("--replay", type=Path, help="stream this capture to every client")
    args = parser.parse_args(argv)
    members: dict[str, list[str | StaticMember]] = {}
    for spec in args.member:
        queue, _, extension = spec.partition(":")
        members.setdefault(queue, []).append(extension)
    config = SimulatorConfig(
        host=args.host,
        port=args.port,
        user=args.user,
        secret=args.secret,
        time_scale=args.time_scale,
        seed=args.seed,
        calls_per_minute=args.calls_per_minute,
        callers=args.caller,
        static_members=members,
        recordings_dir=args.recordings_dir,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_simulator(config, replay=args.replay))


if __name__ == "__main__":
    main()
