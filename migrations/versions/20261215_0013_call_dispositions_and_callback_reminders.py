"""call dispositions; callback attempts remember when their promised call back was reminded

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-15 09:00:00+00:00

After each answered call its agent codes why the customer called (`call_dispositions`, one per
call: a configured code, a note, the customer and project when the caller was unknown). An
agent who promised a customer a call back at a time ("call later") is reminded of it then,
once: `callback_attempts.reminded_at` says it was done, so a restart neither repeats nor loses
a reminder.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "call_dispositions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("coded_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_call_dispositions_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_call_dispositions_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_call_dispositions_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_call_dispositions_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_dispositions")),
        sa.UniqueConstraint("call_id", name=op.f("uq_call_dispositions_call_id")),
    )
    op.create_index(
        op.f("ix_call_dispositions_agent_id"), "call_dispositions", ["agent_id"], unique=False
    )
    op.create_index(
        op.f("ix_call_dispositions_customer_id"), "call_dispositions", ["customer_id"], unique=False
    )
    op.create_index(
        op.f("ix_call_dispositions_project_id"), "call_dispositions", ["project_id"], unique=False
    )
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminded_at", crm.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
    op.drop_index(op.f("ix_call_dispositions_project_id"), table_name="call_dispositions")
    op.drop_index(op.f("ix_call_dispositions_customer_id"), table_name="call_dispositions")
    op.drop_index(op.f("ix_call_dispositions_agent_id"), table_name="call_dispositions")
    op.drop_table("call_dispositions")
