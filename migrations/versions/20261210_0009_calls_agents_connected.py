"""calls: every agent the customer talked to (transfers)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (with a default, so NOT NULL holds at once): SQLite's batch mode would
    # copy the table, which its foreign keys (transcription jobs, attempts) forbid.
    op.add_column(
        "calls",
        sa.Column("agents_connected", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    # Calls stored before: the agent who answered is the only one known.
    array = (
        "json_build_array(agent_interface)"
        if op.get_bind().dialect.name == "postgresql"
        else "json_array(agent_interface)"
    )
    op.execute(f"UPDATE calls SET agents_connected = {array} WHERE agent_interface IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("agents_connected")
