"""The `callcentre` command: database, import, demo data, the server, the PBX simulator, tools."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from crm.db import Database
    from crm.settings import Settings

# Imports are made by the commands that need them: a worker process of `callcentre
# transcribe` imports this module again (multiprocessing's spawn), and every command's
# start-up should pay only for what it uses.

log = logging.getLogger("callcentre")


def _settings(**overrides: Any) -> Settings:
    from crm.settings import ConfigurationError, load_settings

    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _setup_logging(verbose: bool = False, log_format: str = "text") -> None:
    from web import log_format as log_lines

    log_lines.configure(verbose=verbose, log_format=log_format)


def _run(coroutine_factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    import asyncio

    try:
        return asyncio.run(_interruptible(coroutine_factory))
    except (KeyboardInterrupt, asyncio.CancelledError):
        click.echo("stopped", err=True)
        return None


async def _interruptible(coroutine_factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run the command's coroutine; Ctrl-C (SIGINT) cancels it, a second one interrupts at
    once. asyncio.run's own SIGINT handler only runs when the signal lands on the main thread:
    one delivered to a worker thread (a `to_thread` executor's) left the loop asleep in
    select() for good. The loop's handler wakes it through its self-pipe, whichever thread
    took the signal."""
    import asyncio
    import contextlib
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def interrupted() -> None:
        loop.remove_signal_handler(signal.SIGINT)  # Python's default again: the next one raises
        if task is not None:
            task.cancel()

    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):  # not the main
        loop.add_signal_handler(signal.SIGINT, interrupted)  # thread: asyncio.run's alone
    try:
        return await coroutine_factory()
    finally:
        loop.remove_signal_handler(signal.SIGINT)  # False, and harmless, if none was added


def _on_database(settings: Settings, work: Callable[[Database], Awaitable[Any]]) -> Any:
    """`work` run to its end on the configured database (None when interrupted), the
    database's connections closed after."""
    from crm.db import Database

    async def main() -> Any:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return _run(main)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Call-centre server for home-renovation customer service (装修公司客服中心)."""
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply the Alembic migrations to the configured database."""
    from migrations import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the schema back to REVISION (an older release's head), to roll an upgrade back:
    what the newer migrations added is lost (README: Upgrades)."""
    from alembic.util import CommandError

    from migrations import downgrade, known_revision

    if revision != "base" and not known_revision(revision):
        raise click.BadParameter(f"{revision!r} is no revision of this release's migrations")
    settings = _settings()
    try:
        downgrade(settings.database_url, revision)
    except CommandError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"database at {revision}")


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Load customers, phones and projects from FILE.xlsx or FILE.csv (all or nothing).

    Column headers may be Chinese or English; see `crm/importer/__init__.py` for the list.
    """
    from rich.progress import Progress

    from crm.clock import SystemClock, local_today
    from crm.importer import ImportRejected, import_file

    settings = _settings()

    async def load(database: Database) -> Any:
        with Progress(transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done, total=total)

            return await import_file(
                database,
                file,
                settings=settings,
                today=local_today(SystemClock(), settings.tz),
                progress=progress,
            )

    try:
        report = _on_database(settings, load)
    except ImportRejected as rejected:
        for error in rejected.errors:
            where = f"row {error.row}" + (f", column {error.column}" if error.column else "")
            value = f" ({error.value!r})" if error.value not in (None, "") else ""
            click.echo(f"{where}{value}: {error.reason}", err=True)
        raise click.ClickException(
            f"{len(rejected.errors)} problem(s) found; nothing was imported"
        ) from None
    if report is not None:
        click.echo(str(report))


@cli.command()
@click.option("--customers", default=300, show_default=True, type=click.IntRange(0, 1_000_000))
@click.option("--force", is_flag=True, help="Add customers even if some exist already.")
@click.option("--seed", "rng_seed", default=2026, show_default=True)
def seed(customers: int, force: bool, rng_seed: int) -> None:
    """Create realistic demo data and one demo user per role."""
    from crm.clock import SystemClock, local_today
    from crm.demo.seed import DEMO_LOGINS
    from crm.demo.seed import seed as seed_data

    settings = _settings()
    created = _on_database(
        settings,
        lambda database: seed_data(
            database,
            settings=settings,
            customers=customers,
            today=local_today(SystemClock(), settings.tz),
            rng_seed=rng_seed,
            force=force,
        ),
    )
    click.echo(str(created))
    for username, password, role, _ in DEMO_LOGINS:
        click.echo(f"  {role:<10} {username} / {password}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--role",
    "role_names",
    multiple=True,
    metavar="ROLE[,ROLE…]",
    help="bridge, web, worker or dialer (repeatable or comma-separated) "
    "[default: all, in this one process]",
)
@click.option(
    "--health-port",
    type=click.IntRange(1, 65535),
    help="without the web role: serve /healthz and /metrics (only) on this port",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    role_names: tuple[str, ...],
    health_port: int | None,
) -> None:
    """Run the server against the configured database and PBX.

    Split across processes or machines with --role (CALLCENTRE_REDIS_URL then joins them):
    one bridge per Asterisk, any number of web and worker processes, dialers of which one
    is active and the others stand by.
    """
    from crm.clock import SystemClock
    from web.runtime.roles import ProcessRole, parse_roles
    from web.server import serve_forever

    try:
        roles = parse_roles(role_names)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from None
    settings = _settings()
    _setup_logging(ctx.obj["verbose"], settings.log_format)
    if (ProcessRole.BRIDGE in roles) != (ProcessRole.WEB in roles) and settings.redis_url is None:
        raise click.ClickException(
            "a bridge and web processes apart need CALLCENTRE_REDIS_URL (redis://host:6379/0) "
            "to reach each other; without Redis run them in one process"
        )
    if health_port is not None and ProcessRole.WEB in roles:
        raise click.BadParameter(
            "a web process serves /healthz and /metrics on --port already",
            param_hint="--health-port",
        )
    _run(
        lambda: serve_forever(
            settings,
            clock=SystemClock(),
            host=host,
            port=port,
            roles=roles,
            health_port=health_port,
        )
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--customers", default=300, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--calls-per-minute", default=3.0, show_default=True, type=click.FloatRange(0))
@click.option(
    "--dir",
    "directory",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--fresh", is_flag=True, help="Start from an empty demo database.")
@click.pass_context
def demo(
    ctx: click.Context,
    host: str,
    port: int,
    customers: int,
    calls_per_minute: float,
    directory: Path,
    fresh: bool,
) -> None:
    """The whole system on this machine: SQLite, the PBX simulator, seeded data."""
    from crm.clock import SystemClock
    from web.demo import run_demo

    _setup_logging(ctx.obj["verbose"])
    _run(
        lambda: run_demo(
            clock=SystemClock(),
            host=host,
            port=port,
            customers=customers,
            calls_per_minute=calls_per_minute,
            directory=directory,
            fresh=fresh,
        )
    )


@cli.command("pbx-sim")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), help="[default: CALLCENTRE_AMI_PORT]")
@click.option("--user", help="AMI user [default: CALLCENTRE_AMI_USER]")
@click.option("--secret", help="AMI secret [default: CALLCENTRE_AMI_SECRET]")
@click.option(
    "--calls-per-minute",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Generated inbound queue calls.",
)
@click.option(
    "--callers-from-db/--no-callers-from-db",
    default=True,
    show_default=True,
    help="Draw callers from the configured database's customers.",
)
@click.option(
    "--member",
    multiple=True,
    metavar="QUEUE:EXTENSION",
    help="A static queue member, e.g. service:1001 (repeatable).",
)
@click.option(
    "--busy",
    multiple=True,
    metavar="NUMBER",
    help="Numbers (or patterns like *7) that answer busy; also --no-answer and --congestion.",
)
@click.option("--no-answer", multiple=True, metavar="NUMBER")
@click.option("--congestion", multiple=True, metavar="NUMBER")
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0.001),
    help="Real seconds per simulated second (0.05 runs 20 times faster).",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--recordings-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="[default: CALLCENTRE_RECORDINGS_DIR]",
)
@click.option(
    "--replay",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Play this AMI capture to every client that logs in.",
)
@click.option(
    "--capture-lab",
    type=click.Choice(["test-dialplan", "project-dialplan"]),
    help="Be the PBX that produced the shared AMI captures (Local channels and its test "
    "phones, telephony/pbx_sim/capture_lab.py) instead of PJSIP phones and trunk.",
)
@click.pass_context
def pbx_sim(
    ctx: click.Context,
    host: str,
    port: int | None,
    user: str | None,
    secret: str | None,
    calls_per_minute: float,
    callers_from_db: bool,
    member: tuple[str, ...],
    busy: tuple[str, ...],
    no_answer: tuple[str, ...],
    congestion: tuple[str, ...],
    time_scale: float,
    seed: int,
    recordings_dir: Path | None,
    replay: Path | None,
    capture_lab: str | None,
) -> None:
    """A simulated Asterisk 22 speaking AMI, for the demo, tests and development."""
    from crm.clock import SystemClock
    from telephony.pbx_sim import SimulatorConfig, run_simulator
    from telephony.pbx_sim.capture_lab import capture_lab_config

    _setup_logging(ctx.obj["verbose"])
    settings = _settings()
    members: dict[str, list[Any]] = {}
    for spec in member:
        queue, sep, extension = spec.partition(":")
        if not (sep and queue and extension):
            raise click.BadParameter(f"{spec!r} is not QUEUE:EXTENSION", param_hint="--member")
        members.setdefault(queue, []).append(extension)

    async def main() -> None:
        callers = await _customer_numbers(settings) if callers_from_db else []
        common: dict[str, Any] = {
            "host": host,
            "port": port or settings.ami_port,
            "user": user or settings.ami_user,
            "secret": secret or settings.ami_secret.get_secret_value(),
            "calls_per_minute": calls_per_minute,
            "callers": callers,
            "time_scale": time_scale,
            "seed": seed,
            "recordings_dir": recordings_dir or settings.recordings_dir,
        }
        if member:
            common["static_members"] = members
        if capture_lab:
            config = capture_lab_config(capture_lab, **common)
        else:
            config = SimulatorConfig(
                **common,
                agent_interface_template=settings.agent_interface_template,
                busy_numbers=list(busy) or SimulatorConfig().busy_numbers,
                no_answer_numbers=list(no_answer),
                congestion_numbers=list(congestion),
            )
        await run_simulator(config, clock=SystemClock(), replay=replay)

    _run(main)


async def _customer_numbers(settings: Settings, limit: int = 5000) -> list[str]:
    """Known customers' numbers to call from; none (with a warning) if the database is not
    reachable or not migrated."""
    from sqlalchemy.exc import SQLAlchemyError

    from crm.customers import service as customers
    from crm.db import Database

    database = Database(settings.database_url)
    try:
        async with database.session() as session:
            return await customers.phone_numbers(session, limit=limit)
    except SQLAlchemyError as exc:
        log.warning(
            "no known callers (database: %s); every caller will be unknown", type(exc).__name__
        )
        return []
    finally:
        await database.dispose()


@cli.group()
def ami() -> None:
    """Asterisk Manager Interface tools."""


@ami.command("replay")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def ami_replay(files: tuple[Path, ...]) -> None:
    """Replay raw AMI captures through the call tracker; print one JSON object per call."""
    import json

    from telephony.channels import AgentDirectory
    from telephony.replay import replay

    settings = _settings()
    for record in replay(files, AgentDirectory(settings.agent_extension_pattern)):
        click.echo(json.dumps(record.replay_json(), ensure_ascii=False))


@cli.group()
def pbx() -> None:
    """The live PBX."""


@pbx.command("check")
@click.option("--json", "as_json", is_flag=True, help="One JSON document, for scripts.")
@click.option(
    "--no-call",
    is_flag=True,
    help="Skip the recording test call (it shows up in a running server's call history).",
)
@click.option(
    "--wait-recording",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="Seconds to wait for the test recording to reach CALLCENTRE_RECORDINGS_DIR.",
)
@click.option(
    "--conf-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The asterisk-conf/ to compare with [default: the one shipped with the server].",
)
def pbx_check(as_json: bool, no_call: bool, wait_recording: float, conf_dir: Path | None) -> None:
    """Check that the PBX (CALLCENTRE_AMI_*) has everything the server needs, and say how to
    fix what is missing. Exit status: 0 all passed (warnings allowed), 1 a check failed,
    2 the PBX could not be reached or refused the login."""
    from rich.console import Console

    from crm.clock import SystemClock
    from telephony.pbx_check.conf_files import SHIPPED_DIR, ConfError
    from telephony.pbx_check.report import print_results, results_json
    from telephony.pbx_check.results import EXIT_UNREACHABLE, exit_status
    from telephony.pbx_check.run import check_pbx
    from telephony.pbx_check.session import CannotConnect

    if click.get_current_context().find_root().obj.get("verbose"):
        _setup_logging(verbose=True)
    else:  # the AMI client's own log lines would repeat what the check prints
        logging.getLogger("telephony.ami").setLevel(logging.CRITICAL)
    settings = _settings()
    try:
        results = _run(
            lambda: check_pbx(
                settings,
                clock=SystemClock(),
                conf_dir=conf_dir or SHIPPED_DIR,
                call=not no_call,
                wait_recording=wait_recording,
            )
        )
    except CannotConnect as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_UNREACHABLE)
    except ConfError as exc:
        raise click.ClickException(str(exc)) from None
    if results is None:  # interrupted
        sys.exit(EXIT_UNREACHABLE)
    if as_json:
        click.echo(results_json(results))
    else:
        print_results(results, Console())
    sys.exit(exit_status(results))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Vosk model directory [default: CALLCENTRE_VOSK_MODEL_PATH]",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per file: file, duration and words with their times.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes [default: CALLCENTRE_TRANSCRIPTION_WORKERS]",
)
@click.option(
    "--stats",
    is_flag=True,
    help="Also print to stderr how long the workers took to load the model and how "
    "fast they transcribed (JSON with --json): for sizing a deployment.",
)
def transcribe(
    files: tuple[Path, ...],
    model_path: Path | None,
    as_json: bool,
    workers: int | None,
    stats: bool,
) -> None:
    """Transcribe recordings (8 or 16 kHz, 16-bit PCM WAV, or Ogg Opus as calls are stored
    after transcription) with word timings, using Vosk."""
    import json

    from rich.console import Console
    from rich.progress import Progress

    from crm.clock import SystemClock
    from telephony.speech.errors import ModelUnavailable, TranscriptionError
    from telephony.speech.model_dir import DOWNLOAD_HINT
    from telephony.speech.status import open_pool

    settings = _settings()
    if model_path is None and settings.vosk_model_path is None:
        raise click.ClickException(
            f"no Vosk model: pass --model DIR or set CALLCENTRE_VOSK_MODEL_PATH; {DOWNLOAD_HINT}"
        )
    count = min(workers or settings.transcription_workers, len(files))
    clock = SystemClock()
    started = clock.monotonic()
    try:
        pool = open_pool(
            settings,
            clock=clock,
            model_path=model_path,
            workers=count,
            crash_retries=settings.transcription_max_retries,
        )
    except ModelUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    failed, audio_seconds = 0, 0.0
    console = Console(stderr=True)
    with pool, Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        ready = pool.wait_ready()  # files then start together: the timings below mean that
        loaded = clock.monotonic()
        task = bar.add_task("transcribing", total=len(files))
        futures = [pool.submit(path) for path in files]
        for future in futures:
            future.add_done_callback(lambda _done: bar.advance(task))
        for future in futures:
            try:
                transcript = future.result()
            except TranscriptionError as exc:
                failed += 1
                bar.console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
                continue
            audio_seconds += transcript.duration
            if as_json:
                click.echo(json.dumps(transcript.as_json(), ensure_ascii=False))
            else:
                click.echo(
                    f"# {transcript.file} ({transcript.duration:.2f} s, "
                    f"{transcript.rate} Hz, {transcript.model})"
                )
                for start, end, text in transcript.utterances() or [(0.0, 0.0, "(no speech)")]:
                    click.echo(f"[{start:7.2f} - {end:7.2f}] {text}")
        finished = clock.monotonic()
    if stats:
        _print_transcription_stats(
            as_json,
            files=len(files) - failed,
            workers=count,
            ready=ready,
            loading=loaded - started,
            transcribing=finished - loaded,
            audio=audio_seconds,
        )
    if failed:
        raise click.ClickException(f"{failed} of {len(files)} file(s) could not be transcribed")


def _print_transcription_stats(
    as_json: bool,
    *,
    files: int,
    workers: int,
    ready: int,
    loading: float,
    transcribing: float,
    audio: float,
) -> None:
    import json

    rtf = transcribing / audio if audio else None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "stats": {
                        "files": files,
                        "workers": workers,
                        "workers_ready": ready,
                        "loading_seconds": round(loading, 3),
                        "transcribing_seconds": round(transcribing, 3),
                        "audio_seconds": round(audio, 3),
                        "rtf": None if rtf is None else round(rtf, 4),
                    }
                }
            ),
            err=True,
        )
        return
    speed = f"RTF {rtf:.3f}, {1 / rtf:.1f}× real time" if rtf else "no audio"
    click.echo(
        f"{workers} worker(s) loaded the model in {loading:.2f} s ({ready} ready); "
        f"{files} file(s), {audio:.1f} s of audio transcribed in {transcribing:.2f} s "
        f"({speed})",
        err=True,
    )


@cli.group()
def models() -> None:
    """Speech-recognition models."""


@models.command("download")
@click.argument("which", type=click.Choice(["cn-small", "cn"]))
@click.option(
    "--dir",
    "directory",
    default=Path("var/models"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the model directory is created.",
)
@click.option(
    "--mirror",
    metavar="URL",
    help="Base URL of a server holding the same zip files "
    "[default: https://alphacephei.com/vosk/models]",
)
def models_download(which: str, directory: Path, mirror: str | None) -> None:
    """Fetch an official Mandarin Vosk model, verify and unpack it.

    cn-small (vosk-model-small-cn-0.22, 42 MB) suits most call centres; cn
    (vosk-model-cn-0.22, 1.3 GB) is more accurate and needs several GB per worker.
    """
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from telephony.speech.download import (
        OFFICIAL_BASE_URL,
        OFFICIAL_MODELS,
        DownloadError,
        download_model,
    )

    model = OFFICIAL_MODELS[which]
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn())
    console = Console(stderr=True)
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task(model.name, total=model.size)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total or model.size)

        try:
            path = download_model(
                model, directory, base_url=mirror or OFFICIAL_BASE_URL, progress=progress
            )
        except DownloadError as exc:
            raise click.ClickException(str(exc)) from None
    if model.sha256 is None:
        click.echo(
            f"note: no checksum is recorded for {model.name}; its unpacked structure "
            f"was verified instead",
            err=True,
        )
    click.echo(f"{model.name} is in {path}; to use it set")
    click.echo(f"CALLCENTRE_VOSK_MODEL_PATH={path.resolve()}")


@cli.group()
def qa() -> None:
    """Call quality (质检): the automatic scorecard."""


@qa.command("score")
@click.argument("call_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--rules",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scorecard file [default: CALLCENTRE_QA_RULES_PATH, else the shipped one]",
)
def qa_score(call_file: Path, rules: Path | None) -> None:
    """Score one call given as JSON (call facts and both legs' timed words); print JSON.

    CALL_FILE: {"call": {"kind": "inbound"|"callback", "ring_seconds": 4.0,
    "hung_up_by": "customer"}, "words": [{"leg": "agent", "word": "您好", "start": 0.4,
    "end": 0.8}, ...]}
    """
    import json

    from crm.quality.call_file import CallFileError, parse_call
    from crm.quality.rules import RulesError, load_rules
    from crm.quality.scorecard import score

    settings = _settings()
    try:
        card = load_rules(rules or settings.qa_rules_path)
    except RulesError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        facts, words = parse_call(json.loads(call_file.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError, CallFileError) as exc:
        raise click.ClickException(f"{call_file}: {exc}") from None
    click.echo(json.dumps(score(card, facts, words).as_json(), ensure_ascii=False))


@cli.command()
@click.argument("kind", type=click.Choice(["weekly", "monthly", "daily"]))
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Any day of the period (the weekly report: the week ending on the Monday "
    "on or before it) [default: the last period already over]",
)
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "pdf"]), default="xlsx", show_default=True
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write [default: the download's name, here]",
)
@click.option("--lang", type=click.Choice(["zh-CN", "en"]), default="zh-CN", show_default=True)
def report(kind: str, day: Any, fmt: str, out: Path | None, lang: str) -> None:
    """Write a report as the page's download: the weekly callback analysis (周回访情况分析表),
    the monthly report or the daily figures, as XLSX or PDF."""
    from crm.clock import SystemClock, local_today
    from crm.errors import DomainError
    from crm.reports.periods import ReportKind, latest_complete
    from web.params import FIRST_DAY, LAST_DAY
    from web.report_exports import export

    settings = _settings()
    clock = SystemClock()
    today = local_today(clock, settings.tz)
    chosen = day.date() if day else latest_complete(ReportKind(kind), today)
    if not FIRST_DAY <= chosen <= LAST_DAY:  # the API's range: the period's arithmetic holds
        raise click.BadParameter(
            f"a date between {FIRST_DAY} and {LAST_DAY}", param_hint="'--date'"
        )

    try:
        file = _on_database(
            settings,
            lambda database: export(
                database,
                settings,
                kind=ReportKind(kind),
                day=chosen,
                fmt=fmt,
                lang=lang,
                now=clock.now(),
            ),
        )
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    if file is None:
        return
    target = out or Path(file.filename)
    target.write_bytes(file.content)
    click.echo(f"{target} ({len(file.content)} bytes)")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Say what is due; delete nothing.")
def retention(dry_run: bool) -> None:
    """Apply the retention policies (CALLCENTRE_RETAIN_*): delete recordings, transcripts,
    scores and call rows past their time, each call's deletion audited; calls of a customer
    with a complaint not yet closed are kept."""
    from crm.clock import SystemClock
    from crm.retention.planner import RetentionPolicy
    from telephony.recordings.files import RecordingFiles
    from telephony.recordings.retention import run_retention
    from web.retention_report import describe

    settings = _settings()
    policy = RetentionPolicy.of(settings)

    clock = SystemClock()

    report = _on_database(
        settings,
        lambda database: run_retention(
            database,
            RecordingFiles.of(settings, clock),
            policy=policy,
            now=clock.now(),
            dry_run=dry_run,
            actor="retention:cli",
        ),
    )
    if report is not None:
        for line in describe(report, policy):
            click.echo(line)


@cli.command("config-reference")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write it to this file (docs/configuration.md) [default: print it]",
)
@click.option(
    "--check",
    "check_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Exit 1 if this file differs from what would be written",
)
def config_reference(out: Path | None, check_file: Path | None) -> None:
    """Every setting (CALLCENTRE_*): its default, what it accepts, what it does, as Markdown
    written from the settings model (docs/configuration.md)."""
    from web.config_reference import UndescribedSetting, render

    try:
        text = render()
    except UndescribedSetting as exc:
        raise click.ClickException(str(exc)) from None
    if check_file is not None:
        current = check_file.read_text(encoding="utf-8") if check_file.exists() else ""
        if current != text:
            raise click.ClickException(
                f"{check_file} differs from the settings model: run "
                f"`callcentre config-reference --out {check_file}`"
            )
        click.echo(f"{check_file} is current")
    elif out is not None:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{out} written ({text.count(chr(10) + '| `')} settings)")
    else:
        click.echo(text, nl=False)


@cli.group()
def customer() -> None:
    """A customer's data on request (PIPL): export it, erase it."""


def _customer_data_run(action: Callable[..., Coroutine[Any, Any, Any]], **kwargs: Any) -> Any:
    from crm.clock import SystemClock
    from crm.errors import DomainError
    from telephony.recordings.errors import RecordingError
    from telephony.recordings.files import RecordingFiles

    settings = _settings()
    clock = SystemClock()

    try:
        return _on_database(
            settings,
            lambda database: action(
                database,
                RecordingFiles.of(settings, clock),
                actor="cli",
                user_id=None,
                now=clock.now(),
                **kwargs,
            ),
        )
    except (DomainError, RecordingError) as exc:
        raise click.ClickException(str(exc)) from None


@customer.command("export")
@click.argument("customer_id", type=click.IntRange(min=1))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ZIP to write [default: customer-ID.zip, here]",
)
@click.option("--recordings", is_flag=True, help="Include the calls' recordings.")
def customer_export(customer_id: int, out: Path | None, recordings: bool) -> None:
    """Write everything held about customer CUSTOMER_ID as one ZIP (customer.json, and the
    recordings with --recordings); the export is audited."""
    from web.customer_data import export_customer

    archive = _customer_data_run(
        export_customer, customer_id=customer_id, with_recordings=recordings
    )
    if archive is None:
        return
    target = out or Path(archive.filename)
    target.write_bytes(archive.content)
    for missing in archive.recordings_missing:
        click.echo(f"not included: {missing}", err=True)
    click.echo(f"{target} ({len(archive.content)} bytes)")


@customer.command("erase")
@click.argument("customer_id", type=click.IntRange(min=1))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def customer_erase(customer_id: int, yes: bool) -> None:
    """Anonymise customer CUSTOMER_ID: name, numbers, addresses, notes, transcripts and
    recordings deleted, for good; audited by id only."""
    from web.customer_data import erase_customer

    if not yes:
        click.confirm(f"Erase customer {customer_id}'s personal data for good?", abort=True)
    done = _customer_data_run(erase_customer, customer_id=customer_id)
    if done is None:
        return
    counts = ", ".join(f"{key} {value}" for key, value in done.as_detail().items())
    click.echo(f"customer {customer_id} erased: {counts}")


def main() -> None:
    from crm.settings import ConfigurationError

    try:
        cli(obj={})
    except ConfigurationError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
