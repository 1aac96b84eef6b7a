"""an agent's calls by when they ended: the calls still to code are a range, not a scan

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-20 04:00:00+00:00

Every phone event pushes the agent's state with the number of today's calls they have yet to
code (answered, ended since local midnight, no disposition). Through (agent_id, started_at)
both databases read every call the agent ever had to find today's: a cost growing with the
agent's history, three times a call (issue 19).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index("ix_calls_agent_id_ended_at", ["agent_id", "ended_at"])


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_agent_id_ended_at")
