"""QA review queue and feedback

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-12 10:00:00+00:00

`qa_assignments`: the calls the sampling rules put in the review queue, once each, with why.
`qa_feedback`: a reviewer's comment to the agent on one call, the agent's acknowledgement or
dispute, the reviewer's answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qa_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column(
            "reason",
            sa.Enum(
                "complaint",
                "low_score",
                "share",
                name="samplereason",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("assigned_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "reviewed", name="assignmentstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("reviewed_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_qa_assignments_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_assignments_call_id_calls")
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_assignments_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_assignments")),
        sa.UniqueConstraint("call_id", name=op.f("uq_qa_assignments_call_id")),
    )
    with op.batch_alter_table("qa_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_qa_assignments_agent_id"), ["agent_id"], unique=False
        )
        batch_op.create_index("ix_qa_assignments_status_week", ["status", "week"], unique=False)

    op.create_table(
        "qa_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("sent_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "sent",
                "acknowledged",
                "disputed",
                "answered",
                name="feedbackstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("dispute", sa.Text(), nullable=True),
        sa.Column("disputed_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.Integer(), nullable=True),
        sa.Column("answered_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_qa_feedback_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_qa_feedback_answered_by_users")
        ),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_qa_feedback_call_id_calls")),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["users.id"], name=op.f("fk_qa_feedback_reviewer_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_feedback")),
        sa.UniqueConstraint("call_id", name=op.f("uq_qa_feedback_call_id")),
    )
    with op.batch_alter_table("qa_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_feedback_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_qa_feedback_reviewer_id"), ["reviewer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_qa_feedback_status"), ["status"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("qa_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_feedback_status"))
        batch_op.drop_index(batch_op.f("ix_qa_feedback_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_qa_feedback_agent_id"))
    op.drop_table("qa_feedback")
    with op.batch_alter_table("qa_assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_assignments_status_week")
        batch_op.drop_index(batch_op.f("ix_qa_assignments_agent_id"))
    op.drop_table("qa_assignments")
