"""recording compressions: each transcribed call's WAVs replaced by Ogg Opus, as a job

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-17 09:00:00+00:00

One job per call (`recording_compressions`), queued in the transaction that stores the call's
transcripts and leased to a worker like a transcription job; it records the format and sizes
of what it stored. Calls keep naming their recordings in `calls.recording*`: the job points
them at the Ogg files. Backward compatible: an older server ignores the table, and plays the
Ogg files it is pointed at as it plays any file.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import crm.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recording_compressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", crm.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("wav_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", crm.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_recording_compressions_call_id_calls")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_compressions")),
        sa.UniqueConstraint("call_id", name=op.f("uq_recording_compressions_call_id")),
    )
    op.create_index(
        "ix_recording_compressions_status_not_before",
        "recording_compressions",
        ["status", "not_before"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_recording_compressions_status_not_before", table_name="recording_compressions"
    )
    op.drop_table("recording_compressions")
