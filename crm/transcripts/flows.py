"""Hooks other layers call: a finished call is queued for transcription and scoring."""

from __future__ import annotations

from crm.calls.models import Call
from crm.db import Database
from crm.transcripts.service import enqueue_call


async def on_call_ended(database: Database, call_id: int) -> int | None:
    """Queue the ended call's recordings (idempotent); the job's id, or None when the call
    is unknown, still live or was not recorded. Safe to call for every CallEnded event."""
    async with database.session() as session:
        call = await session.get(Call, call_id)
        if call is None:
            return None
        job = await enqueue_call(session, call)
        return None if job is None else job.id
