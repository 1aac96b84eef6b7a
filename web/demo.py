"""`callcentre demo`: the whole system on one machine — SQLite, the PBX simulator, seeded data."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import socket
from pathlib import Path

import click
from sqlalchemy import func, select

from crm.clock import SystemClock, local_today
from crm.customers.models import Customer, Phone
from crm.db import Database
from crm.seed import DEMO_LOGINS, seed
from crm.settings import Settings, load_settings
from migrations import upgrade
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from web.server import serve_forever

log = logging.getLogger(__name__)
AREA_CODE = "029"  # the seeded company is in Xi'an


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_settings(directory: Path, ami_port: int, ami_secret: str) -> Settings:
    return load_settings(
        database_url=f"sqlite+aiosqlite:///{(directory / 'callcentre.db').resolve()}",
        recordings_dir=directory / "recordings", default_area_code=AREA_CODE,
        ami_host="127.0.0.1", ami_port=ami_port, ami_user="callcentre", ami_secret=ami_secret,
        secret_key=secrets.token_urlsafe(32))


async def _callers(database: Database) -> list[str]:
    async with database.session() as session:
        rows = await session.scalars(
            select(Phone.number).join(Customer).where(Customer.do_not_call.is_(False))
            .order_by(Phone.id).limit(2000))
        return list(rows)


async def prepare(settings: Settings, database: Database, *, customers: int) -> None:
    """Migrate and, on first run, seed the demo database."""
    await asyncio.to_thread(upgrade, settings.database_url)
    async with database.session() as session:
        existing = await session.scalar(select(func.count()).select_from(Customer))
    if not existing:
        click.echo(f"seeding {customers} demo customers…")
        await seed(database, settings=settings, customers=customers,
                   today=local_today(SystemClock(), settings.tz))


async def run_demo(*, host: str, port: int, customers: int, calls_per_minute: float,
                   directory: Path, fresh: bool) -> None:
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(directory, _free_port(), secrets.token_urlsafe(16))
    database = Database(settings.database_url)
    simulator: PbxSimulator | None = None
    try:
        await prepare(settings, database, customers=customers)
        simulator = PbxSimulator(SimulatorConfig(
            host="127.0.0.1", port=settings.ami_port, user=settings.ami_user,
            secret=settings.ami_secret.get_secret_value(),
            agent_interface_template=settings.agent_interface_template,
            recordings_dir=settings.recordings_dir, calls_per_minute=calls_per_minute,
            callers=await _callers(database)))
        await simulator.start()
        url = f"http://{host}:{port}"
        lines = [f"Call centre demo: {url}", f"  data under {directory}/ (SQLite)",
                 f"  PBX simulator on 127.0.0.1:{settings.ami_port}, "
                 f"{calls_per_minute:g} inbound call(s) a minute", "  demo logins:"]
        lines += [f"    {role:<10} {username} / {password}"
                  + (f"  (extension {extension})" if extension else "")
                  for username, password, role, extension in DEMO_LOGINS]
        lines.append("  Ctrl-C stops everything.")
        click.echo("\n".join(lines), err=False)
        await serve_forever(settings, host=host, port=port, database=database)
    finally:
        if simulator is not None:
            await simulator.stop()
        await database.dispose()
