"""Callback attempts whose call failed at the PBX (busy, no answer, congestion) are completed
automatically; an answered call is completed by the agent's form."""

from __future__ import annotations

import logging
from datetime import datetime

from crm.callbacks.models import Outcome
from crm.campaigns import service as campaigns
from crm.db import Database
from crm.db_outage import through_outage
from telephony.events import CallRecord

log = logging.getLogger(__name__)

ATTEMPT_OUTCOME = {
    "busy": Outcome.BUSY,
    "no_answer": Outcome.NO_ANSWER,
    "congestion": Outcome.CONGESTION,
    "failed": Outcome.FAILED,
}


def attempt_outcome(record: CallRecord) -> Outcome | None:
    """What a finished call says about its attempt, when the PBX alone can say it."""
    if record.attempt_id is None or record.ended_at is None:
        return None
    if record.outcome == "answered" or record.outcome not in ATTEMPT_OUTCOME:
        return None
    return ATTEMPT_OUTCOME[record.outcome]


async def resolve_attempt(database: Database, record: CallRecord, *, at: datetime) -> bool:
    """Complete the call's open attempt from the PBX's outcome; True if it was completed."""
    outcome = attempt_outcome(record)
    if outcome is None:
        return False

    async def complete() -> bool:
        assert record.attempt_id is not None  # attempt_outcome() found one
        async with database.session() as session:
            return await campaigns.complete_open_attempt(
                session,
                attempt_id=record.attempt_id,
                outcome=outcome,
                at=at,
                notes=f"PBX: {record.outcome}",
            )

    # Once only: the PBX will not say it again, so a database outage is waited out.
    if not await through_outage(complete, what=f"attempt {record.attempt_id}'s outcome"):
        return False
    log.info("attempt %s: %s (from the PBX)", record.attempt_id, outcome.value)
    return True
