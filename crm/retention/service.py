"""The database side of retention: the calls holding data past its time, the calls a complaint
not yet closed keeps, and one call's due deletions applied and audited in one transaction.
The recording files themselves are removed by `telephony.recordings.retention` first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, exists, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from crm.audit.service import record
from crm.callbacks.models import CallbackAttempt
from crm.calls.models import Call
from crm.complaints.models import Complaint, ComplaintStatus
from crm.one_of import one_of
from crm.quality.models import CallScore, RuleReview
from crm.recordings.models import RecordingCompression
from crm.retention.planner import CallHeldData, Deletion, RetentionPolicy
from crm.transcripts.models import Transcript, TranscriptionJob

RETENTION_DELETE = "retention.delete"
RECORDING_COLUMNS = ("recording", "recording_agent", "recording_customer")


async def calls_under_open_complaint(session: AsyncSession) -> frozenset[int]:
    """Calls kept while a complaint is not closed (open, or resolved and awaiting the call
    back): the complaint's own call, the callback call that raised it, and every call of the
    complaining customer, since the dispute may turn on any of them."""
    not_closed = Complaint.status != ComplaintStatus.CLOSED
    own = select(Complaint.call_id.label("id")).where(not_closed, Complaint.call_id.is_not(None))
    raised = (
        select(CallbackAttempt.call_id.label("id"))
        .join(Complaint, Complaint.attempt_id == CallbackAttempt.id)
        .where(not_closed, CallbackAttempt.call_id.is_not(None))
    )
    customers = select(Call.id.label("id")).join(
        Complaint, (Complaint.customer_id == Call.customer_id) & not_closed
    )
    rows = await session.scalars(select(union(own, raised, customers).subquery().c.id))
    return frozenset(int(call_id) for call_id in rows if call_id is not None)


async def calls_past_retention(
    session: AsyncSession, *, now: datetime, policy: RetentionPolicy, limit: int = 5000
) -> list[CallHeldData]:
    """Ended calls still holding something one of the policies says is due, oldest first."""
    has_recording = or_(*(getattr(Call, column).is_not(None) for column in RECORDING_COLUMNS))
    has_transcript = exists().where(Transcript.call_id == Call.id)
    has_score = or_(
        exists().where(CallScore.call_id == Call.id),
        exists().where(RuleReview.call_id == Call.id),
    )
    due: list[ColumnElement[bool]] = []
    if (cutoff := policy.cutoff(policy.audio_days, now)) is not None:
        due.append((Call.started_at <= cutoff) & has_recording)
    if (cutoff := policy.cutoff(policy.transcripts_days, now)) is not None:
        due.append((Call.started_at <= cutoff) & or_(has_transcript, has_score))
    if (cutoff := policy.cutoff(policy.calls_days, now)) is not None:
        due.append(Call.started_at <= cutoff)
    if not due:
        return []
    calls = list(
        await session.scalars(
            select(Call)
            .where(Call.ended_at.is_not(None), or_(*due))
            .order_by(Call.started_at, Call.id)
            .limit(limit)
        )
    )
    ids = [call.id for call in calls]
    transcripts: dict[int, int] = {}
    for call_id in await session.scalars(
        select(Transcript.call_id).where(one_of(Transcript.call_id, ids))
    ):
        transcripts[call_id] = transcripts.get(call_id, 0) + 1
    scored = set(
        await session.scalars(select(CallScore.call_id).where(one_of(CallScore.call_id, ids)))
    )
    scored |= set(
        await session.scalars(select(RuleReview.call_id).where(one_of(RuleReview.call_id, ids)))
    )
    return [
        CallHeldData(
            call_id=call.id,
            started_at=call.started_at,
            recordings=tuple(
                (column, path)
                for column in RECORDING_COLUMNS
                if (path := getattr(call, column)) is not None
            ),
            transcripts=transcripts.get(call.id, 0),
            scored=call.id in scored,
        )
        for call in calls
    ]


@dataclass(slots=True)
class Deleted:
    """What one call's deletion actually removed (another run may have been first)."""

    call_id: int
    recordings: list[str] = field(default_factory=list)  # the columns cleared
    transcripts: int = 0
    scores: int = 0
    reviews: int = 0
    call_row: bool = False

    @property
    def anything(self) -> bool:
        return bool(
            self.recordings or self.transcripts or self.scores or self.reviews or self.call_row
        )

    def as_detail(self) -> dict[str, Any]:
        # What was deleted, never the paths: recordings' file names carry callers' numbers.
        return {
            "recordings": self.recordings,
            "transcripts": self.transcripts,
            "scores": self.scores,
            "reviews": self.reviews,
            "call_row": self.call_row,
        }


async def apply_deletion(
    session: AsyncSession,
    *,
    deletion: Deletion,
    policy: RetentionPolicy,
    now: datetime,
    actor: str = "retention",
) -> Deleted:
    """Remove what is due of one call and audit it in the same transaction; only what is
    still there counts, so two runs at once audit each deletion once."""
    done = Deleted(call_id=deletion.call_id)
    call = await session.scalar(select(Call).where(Call.id == deletion.call_id).with_for_update())
    if call is None:
        return done
    for column, path in deletion.recordings:
        if getattr(call, column) == path:  # unchanged since the files were removed
            setattr(call, column, None)
            done.recordings.append(column)
    if deletion.transcripts or deletion.call_row:
        result = await session.execute(delete(Transcript).where(Transcript.call_id == call.id))
        done.transcripts = _count(result)
    if deletion.scores or deletion.call_row:
        result = await session.execute(delete(RuleReview).where(RuleReview.call_id == call.id))
        done.reviews = _count(result)
        result = await session.execute(delete(CallScore).where(CallScore.call_id == call.id))
        done.scores = _count(result)
    if deletion.call_row:
        await session.execute(delete(TranscriptionJob).where(TranscriptionJob.call_id == call.id))
        await session.execute(
            delete(RecordingCompression).where(RecordingCompression.call_id == call.id)
        )
        await session.delete(call)
        done.call_row = True
    await session.flush()  # a row still referenced (a complaint, a repair) fails here
    if done.anything:
        await record(
            session,
            actor=actor,
            action=RETENTION_DELETE,
            entity_type="call",
            entity_id=call.id if not done.call_row else deletion.call_id,
            detail={**done.as_detail(), "policy": policy.as_dict()},
            at=now,
        )
    return done


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
