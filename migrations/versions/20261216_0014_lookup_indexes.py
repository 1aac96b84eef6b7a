"""lookups that do not grow with the database: the caller's number holds its owner, and the
calls whose recording is still held are indexed by time

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-16 03:00:00+00:00

The screen pop's caller lookup reads `phones` by number for the customer: with the owner in
the index (number, customer_id) it reads no table row to find them (issue 19). The oldest
recording still held (/healthz, /metrics, the wallboard) was `min(started_at)` over the calls
with a recording: the started_at index walked past every call whose recording retention had
already cleared, years of them; a partial index holds only the calls with a recording.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RECORDING_HELD = (
    "recording IS NOT NULL OR recording_agent IS NOT NULL OR recording_customer IS NOT NULL"
)


def upgrade() -> None:
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.create_index("ix_phones_number_customer_id", ["number", "customer_id"])
        batch_op.drop_index("ix_phones_number")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calls_recording_held_started_at",
            ["started_at"],
            sqlite_where=sa.text(RECORDING_HELD),
            postgresql_where=sa.text(RECORDING_HELD),
        )


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_recording_held_started_at")
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.create_index("ix_phones_number", ["number"])
        batch_op.drop_index("ix_phones_number_customer_id")
