"""Alembic migrations for the CRM schema, runnable from code (`callcentre db upgrade`, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent

# The schema head of the release now running in production: the migrations after it must
# keep that release working while its processes are replaced (README: Upgrades; checked by
# tests/test_deploy_upgrade.py). Moved to the new head at each release.
PREVIOUS_RELEASE = "0009"


def alembic_config(database_url: str) -> Config:
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Synchronous: call it outside a running event loop."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def known_revision(revision: str) -> bool:
    """Whether `revision` is one of the migrations shipped with this code (else a newer
    release's, or a stranger's)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(""))
    return revision in {script.revision for script in scripts.walk_revisions()}
