"""`python -m bench [NAME ...] [--quick]`: run the benchmarks, each in its own process."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import time

BENCHMARKS = (
    "ami_ingest",
    "screen_pops",
    "pops_curve",
    "transcription",
    "caller_lookup",
    "due_callbacks",
    "recording_storage",
    "busy_day",  # the longest (about 15 minutes): last, so the others' figures come first
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        choices=[*BENCHMARKS, []],
        metavar="NAME",
        help=f"one or more of {', '.join(BENCHMARKS)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes: checks that everything runs, measures nothing",
    )
    args = parser.parse_args()
    names = args.names or list(BENCHMARKS)
    if len(names) == 1:
        importlib.import_module(f"bench.{names[0]}").run(quick=args.quick)
        return
    # Several: one process each, so no benchmark inherits another's memory or threads.
    results, start = {}, time.perf_counter()
    for name in names:
        command = [sys.executable, "-m", "bench", name, *(["--quick"] if args.quick else [])]
        output = subprocess.run(command, capture_output=True, text=True, check=False)
        sys.stdout.write(output.stdout)
        sys.stderr.write(output.stderr[-4000:])
        lines = output.stdout.strip().splitlines()
        results[name] = (
            json.loads(lines[-1])
            if output.returncode == 0 and lines
            else {"error": f"exit status {output.returncode}"}
        )
        print(flush=True)
    print(
        json.dumps(
            {"benchmarks": results, "seconds": round(time.perf_counter() - start, 1)},
            ensure_ascii=False,
        )
    )
    if any("error" in r for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
