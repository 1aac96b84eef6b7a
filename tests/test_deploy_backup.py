"""deploy/backup.sh and deploy/restore.sh, run as an operator runs them: a throwaway
PostgreSQL filled with demo data and recordings is backed up, restored into a fresh database
and a fresh recordings directory, and every table's rows and every recording compared."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crm.clock import FixedClock
from crm.db import Database
from crm.demo.seed import seed
from crm.settings import load_settings
from migrations import head_revision
from tests.support.api import running_app
from tests.support.postgres import PostgresServer
from tests.support.records import seed_records
from tests.support.tools import need

ROOT = Path(__file__).resolve().parents[1]
BACKUP, RESTORE = ROOT / "deploy" / "backup.sh", ROOT / "deploy" / "restore.sh"
# Percent-encoded as in CALLCENTRE_DATABASE_URL (the test server trusts any password).
PASSWORD = "s3cret@pass:word/%"
ENCODED = "s3cret%40pass%3Aword%2F%25"
RECORDINGS = {
    "2026/12/01/in-1001-13800138000-1.wav": b"RIFF" + bytes(range(256)) * 40,
    "2026/12/01/in-1001-13800138000-1-agent.wav": b"RIFF agent leg",
    "2026/12/02/带空格 的 文件.wav": b"RIFF unicode name",
    "callbacks/out-1002.wav": b"",
}


def _url(postgres: PostgresServer, database: str) -> str:
    return f"postgresql+asyncpg://{postgres.user}:{ENCODED}@127.0.0.1:{postgres.port}/{database}"


def _env(postgres: PostgresServer, database: str, recordings: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALLCENTRE_", "PG"))}
    env["PATH"] = f"{postgres.bindir}:{env['PATH']}"  # the server's own pg_dump and psql
    env["CALLCENTRE_DATABASE_URL"] = _url(postgres, database)
    env["CALLCENTRE_RECORDINGS_DIR"] = str(recordings)
    return env


def run(script: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip


async def row_counts(url: str) -> dict[str, int]:
    database = Database(url)
    try:
        async with database.session() as session:
            tables = await session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            )
            return {
                table: int(await session.scalar(text(f'SELECT count(*) FROM "{table}"')) or 0)
                for table in list(tables)
            }
    finally:
        await database.dispose()


def tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.fixture
async def populated(postgres: PostgresServer, pg_template: str, tmp_path: Path) -> tuple[str, Path]:
    """A database at the schema's head with the demo data and one record of every kind the
    API names (calls, complaints, repairs, campaigns, grants …), and its recordings."""
    need("rsync", "rsync")
    name = f"backup_src_{os.getpid()}"
    postgres.psql(f"DROP DATABASE IF EXISTS {name}")
    postgres.psql(f"CREATE DATABASE {name} TEMPLATE {pg_template}")  # migrated to head
    url = _url(postgres, name)
    settings = load_settings(database_url=url, default_area_code="029")
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    database = Database(url)
    try:
        async with running_app(settings, database, clock=FixedClock(now)) as api:
            await seed_records(api, database, now)
        await seed(database, settings=settings, customers=60, today=now.date(), force=True)
    finally:
        await database.dispose()
    recordings = tmp_path / "recordings"
    for relative, content in RECORDINGS.items():
        (recordings / relative).parent.mkdir(parents=True, exist_ok=True)
        (recordings / relative).write_bytes(content)
    return name, recordings


async def test_a_backup_restores_into_a_fresh_database_whole(
    postgres: PostgresServer, populated: tuple[str, Path], tmp_path: Path
) -> None:
    source, recordings = populated
    backups = tmp_path / "backups"
    made = run(BACKUP, "--keep", "3", str(backups), env=_env(postgres, source, recordings))
    assert made.returncode == 0, made.stderr
    assert PASSWORD not in made.stdout + made.stderr and ENCODED not in made.stdout + made.stderr
    (backup,) = backups.iterdir()
    assert backup.name.startswith("callcentre-") and not backup.name.endswith(".partial")
    assert (backup / "schema-revision").read_text().strip() == head_revision()

    fresh = f"backup_dst_{os.getpid()}"
    postgres.psql(f"DROP DATABASE IF EXISTS {fresh}")
    postgres.psql(f"CREATE DATABASE {fresh}")
    restored_recordings = tmp_path / "restored-recordings"
    restored = run(RESTORE, str(backup), env=_env(postgres, fresh, restored_recordings))
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout

    before = await row_counts(_url(postgres, source))
    after = await row_counts(_url(postgres, fresh))
    assert after == before
    filled = [table for table, rows in before.items() if rows]
    assert len(filled) >= 15, f"too little demo data to prove much: {filled}"
    assert tree(restored_recordings) == tree(recordings)

    # Restoring again into the now-filled database is refused, and changes nothing.
    again = run(RESTORE, str(backup), env=_env(postgres, fresh, restored_recordings))
    assert again.returncode != 0 and "not empty" in again.stderr
    assert await row_counts(_url(postgres, fresh)) == before


async def test_backups_share_unchanged_recordings_and_old_ones_are_pruned(
    postgres: PostgresServer, populated: tuple[str, Path], tmp_path: Path
) -> None:
    source, recordings = populated
    backups, env = tmp_path / "backups", _env(postgres, source, recordings)
    for n in range(3):
        (recordings / f"new-{n}.wav").write_bytes(b"RIFF new")
        made = run(BACKUP, "--keep", "2", str(backups), env=env)
        assert made.returncode == 0, made.stderr
        if n < 2:
            await asyncio.sleep(1.1)  # backups are named by the second
    kept = sorted(backups.iterdir())
    assert len(kept) == 2
    older, newer = (b / "recordings" / "2026/12/01/in-1001-13800138000-1.wav" for b in kept)
    assert older.stat().st_ino == newer.stat().st_ino  # one file on disk, two backups
    assert (kept[1] / "recordings" / "new-2.wav").exists()
    assert not (kept[0] / "recordings" / "new-2.wav").exists()


async def test_a_damaged_or_unfinished_backup_is_not_restored(
    postgres: PostgresServer, populated: tuple[str, Path], tmp_path: Path
) -> None:
    source, recordings = populated
    backups = tmp_path / "backups"
    assert run(BACKUP, str(backups), env=_env(postgres, source, recordings)).returncode == 0
    (backup,) = backups.iterdir()
    dump = backup / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    fresh = f"backup_bad_{os.getpid()}"
    postgres.psql(f"DROP DATABASE IF EXISTS {fresh}")
    postgres.psql(f"CREATE DATABASE {fresh}")
    env = _env(postgres, fresh, tmp_path / "restored")
    damaged = run(RESTORE, str(backup), env=env)
    assert damaged.returncode != 0 and "SHA256SUMS" in damaged.stderr
    (backup / "SHA256SUMS").unlink()
    unfinished = run(RESTORE, str(backup), env=env)
    assert unfinished.returncode != 0 and "not a complete backup" in unfinished.stderr
    assert await row_counts(_url(postgres, fresh)) == {}


def test_the_scripts_refuse_what_they_cannot_back_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLCENTRE_")}
    missing = run(BACKUP, str(tmp_path), env=env)
    assert missing.returncode != 0 and "CALLCENTRE_DATABASE_URL" in missing.stderr
    env["CALLCENTRE_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/x.db"
    sqlite = run(BACKUP, str(tmp_path), env=env)
    assert sqlite.returncode != 0 and "not PostgreSQL" in sqlite.stderr
    usage = run(RESTORE, env=env)
    assert usage.returncode == 2 and "usage" in usage.stderr
