"""callback tasks in campaign dialing order, attempts by time: indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 17:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_callback_tasks_dialing_order",
                              ["status", "priority", "due_date", "id"], unique=False)
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_attempts_started_at"), ["started_at"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_attempts_started_at"))
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_tasks_dialing_order")
