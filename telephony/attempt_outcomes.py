"""Callback attempts whose call failed at the PBX (busy, no answer, congestion) are completed
automatically; an answered call is completed by the agent's form."""

from __future__ import annotations

import logging
from datetime import datetime

from crm.callbacks.models import Outcome
from crm.calls.models import CallOutcome
from crm.campaigns import service as campaigns
from crm.db import Database
from crm.db_outage import through_outage
from telephony.events import CallRecord

log = logging.getLogger(__name__)

# The call outcomes that settle an attempt by themselves, each with the attempt's word for it;
# an answered call is settled by the agent's form.
ATTEMPT_OUTCOME = {
    CallOutcome.BUSY: Outcome.BUSY,
    CallOutcome.NO_ANSWER: Outcome.NO_ANSWER,
    CallOutcome.CONGESTION: Outcome.CONGESTION,
    CallOutcome.FAILED: Outcome.FAILED,
}


def attempt_outcome(record: CallRecord) -> Outcome | None:
    """What a finished call says about its attempt, when the PBX alone can say it."""
    if record.attempt_id is None or record.ended_at is None or record.outcome is None:
        return None
    return ATTEMPT_OUTCOME.get(record.outcome)


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
