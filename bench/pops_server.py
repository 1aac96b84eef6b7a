"""The screen-pop benchmark's server: the real app under uvicorn in its own process, as
`callcentre serve` runs it, optionally under a sampling profiler.

`python -m bench.pops_server --database URL --ami-port P --port Q [--profile FILE.html|.txt]
[--role ROLES --redis URL]`;
closing its stdin stops it (uvicorn's graceful shutdown), and the profile is written then (a
SIGTERM would be re-raised by uvicorn and end the process before that). Profiling starts on
SIGUSR1.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from crm.clock import SystemClock
from crm.settings import load_settings
from web.app import create_app
from web.runtime.roles import ProcessRole, parse_roles
from web.server import web_config


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pops_server")
    parser.add_argument("--database", required=True)
    parser.add_argument("--ami-port", type=int, required=True)
    parser.add_argument("--port", type=int, help="HTTP port (a process with the web role)")
    parser.add_argument("--recordings", required=True)
    parser.add_argument("--secret", default="bench-secret")
    parser.add_argument("--profile", help="write a pyinstrument profile here (.html or .txt)")
    parser.add_argument("--role", default="", help="as `callcentre serve --role` (default: all)")
    parser.add_argument("--redis", help="Redis URL: events between the processes")
    args = parser.parse_args()
    settings = load_settings(
        database_url=args.database,
        ami_port=args.ami_port,
        ami_secret=args.secret,
        default_area_code="029",
        recordings_dir=Path(args.recordings),
        dialer_enabled=False,
        secret_key="bench-secret-key-" + "x" * 32,
        redis_url=args.redis,
    )
    roles = parse_roles([args.role])
    app = create_app(settings, roles=roles, clock=SystemClock())
    if ProcessRole.WEB not in roles:  # a bridge: no HTTP, just its lifespan until stdin closes
        asyncio.run(_run_headless(app))
        return
    if args.port is None:
        parser.error("--port is needed by the web role")
    # Served as `callcentre serve` serves it.
    server = uvicorn.Server(web_config(app, host="127.0.0.1", port=args.port, log_level="warning"))

    def stop_on_eof() -> None:
        sys.stdin.read()
        server.should_exit = True

    threading.Thread(target=stop_on_eof, daemon=True).start()
    if not args.profile:
        server.run()
        return
    from pyinstrument import Profiler  # a development tool: only needed to profile

    profiler = Profiler(interval=0.001, async_mode="disabled")
    # Started by SIGUSR1, which the benchmark sends as its calls begin: the profile leaves
    # out start-up and the agents' logins.
    signal.signal(signal.SIGUSR1, lambda *_: profiler.is_running or profiler.start())
    try:
        server.run()
    finally:
        if profiler.is_running:
            profiler.stop()
        out = Path(args.profile)
        out.write_text(
            profiler.output_html()
            if out.suffix == ".html"
            else profiler.output_text(unicode=False, show_all=False)
        )


async def _run_headless(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        await asyncio.to_thread(sys.stdin.read)


if __name__ == "__main__":
    main()
