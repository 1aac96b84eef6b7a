"""a project's callback tasks by project: the customer card reads them without a scan

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-19 04:00:00+00:00

The customer card (screen pops, the customer page) reads every callback task of a customer's
projects, complaint call backs included. The only index starting with `project_id` was the
schedule's partial unique index, which leaves complaint call backs out, so neither database
could use it for that read and scanned the whole table (issue 19).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_callback_tasks_project_id", ["project_id"])


def downgrade() -> None:
    with op.batch_alter_table("callback_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_tasks_project_id")
