"""Which recordings, transcripts, scores and call rows are due for deletion: a pure decision
from the time now, the policies and the calls under a complaint not yet closed (kept until
it closes). Nothing here reads the database or the disk."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm.settings import Settings


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days each kind of data is kept from the call's start; 0 keeps it forever."""

    audio_days: int
    transcripts_days: int  # transcripts and QA scores (with their reviews)
    calls_days: int = 0
    import_hours: int = 24  # uploaded import files never committed, from their last activity

    @classmethod
    def of(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            audio_days=settings.retain_audio_days,
            transcripts_days=settings.retain_transcripts_days,
            calls_days=settings.retain_calls_days,
            import_hours=settings.retain_import_hours,
        )

    @staticmethod
    def cutoff(days: int, now: datetime) -> datetime | None:
        """Calls started at or before this are due; None: kept forever."""
        return now - timedelta(days=days) if days else None

    def as_dict(self) -> dict[str, int]:
        return {
            "audio_days": self.audio_days,
            "transcripts_days": self.transcripts_days,
            "calls_days": self.calls_days,
        }


@dataclass(frozen=True, slots=True)
class CallHeldData:
    """What is still held of one ended call."""

    call_id: int
    started_at: datetime
    recordings: tuple[tuple[str, str], ...]  # (column, stored path) of each file still named
    transcripts: int
    scored: bool  # an automatic score or reviewers' decisions


@dataclass(frozen=True, slots=True)
class Deletion:
    """What is due of one call."""

    call_id: int
    recordings: tuple[tuple[str, str], ...] = ()
    transcripts: bool = False
    scores: bool = False
    call_row: bool = False


@dataclass(frozen=True, slots=True)
class RetentionPlan:
    deletions: list[Deletion]
    held: list[int]  # calls with something due, kept for a complaint not yet closed


def _due(started_at: datetime, cutoff: datetime | None) -> bool:
    return cutoff is not None and started_at <= cutoff


def plan_retention(
    calls: Iterable[CallHeldData],
    *,
    now: datetime,
    policy: RetentionPolicy,
    under_open_complaint: frozenset[int],
) -> RetentionPlan:
    """The deletions due now, in call order, and the calls held back by a complaint."""
    audio = policy.cutoff(policy.audio_days, now)
    transcripts = policy.cutoff(policy.transcripts_days, now)
    rows = policy.cutoff(policy.calls_days, now)
    deletions: list[Deletion] = []
    held: list[int] = []
    for call in sorted(calls, key=lambda c: c.call_id):
        row_due = _due(call.started_at, rows)
        text_due = row_due or _due(call.started_at, transcripts)
        deletion = Deletion(
            call_id=call.call_id,
            recordings=call.recordings if row_due or _due(call.started_at, audio) else (),
            transcripts=text_due and call.transcripts > 0,
            scores=text_due and call.scored,
            call_row=row_due,
        )
        if not (deletion.recordings or deletion.transcripts or deletion.scores or row_due):
            continue
        if call.call_id in under_open_complaint:
            held.append(call.call_id)
        else:
            deletions.append(deletion)
    return RetentionPlan(deletions=deletions, held=held)
