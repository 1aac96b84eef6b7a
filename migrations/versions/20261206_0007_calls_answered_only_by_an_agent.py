"""calls: answered only when an agent answered (data)

Before this revision the bridge took the PBX answering an inbound caller (to play music in the
queue) for an answer: calls that ended abandoned, unanswered or refused carry an `answered_at`,
the paths of header-only recordings (MixMonitor records only while bridged) and a transcription
job. Their outcome was right; this makes the rest agree with it. Jobs already run are kept
(their transcripts and scores stay readable); jobs still waiting are dropped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:40:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_ANSWERED = "outcome IS NOT NULL AND outcome <> 'answered'"


def upgrade() -> None:
    op.execute(
        "DELETE FROM transcription_jobs WHERE status = 'queued' "
        f"AND call_id IN (SELECT id FROM calls WHERE {NOT_ANSWERED})"
    )
    op.execute(
        "UPDATE calls SET answered_at = NULL, talk_seconds = NULL, recording = NULL, "
        f"recording_agent = NULL, recording_customer = NULL WHERE {NOT_ANSWERED}"
    )


def downgrade() -> None:
    """Nothing to undo: the cleared values were wrong."""
