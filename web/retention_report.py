"""A retention run as an operator reads it: the policies, then what would be or was deleted,
call by call, and what was kept and why."""

from __future__ import annotations

from collections.abc import Iterator

from crm.retention.planner import RetentionPolicy
from telephony.recordings.retention import RetentionReport


def _days(days: int) -> str:
    return f"{days} days" if days else "forever"


def describe(report: RetentionReport, policy: RetentionPolicy) -> Iterator[str]:
    yield (
        f"policies: audio {_days(policy.audio_days)}, transcripts and scores "
        f"{_days(policy.transcripts_days)}, call rows {_days(policy.calls_days)}, "
        f"uncommitted imports {policy.import_hours} hours"
    )
    if report.dry_run:
        yield "dry run: nothing deleted"
        for d in report.planned:
            what = [f"{len(d.recordings)} recording(s)"] if d.recordings else []
            what += ["transcripts"] if d.transcripts else []
            what += ["scores"] if d.scores else []
            what += ["call row"] if d.call_row else []
            yield f"would delete call {d.call_id}: {', '.join(what)}"
        for purge in report.imports_planned:
            yield (
                f"would delete import {purge.job_id} ({purge.status}, never committed): "
                "its file and preview"
            )
    else:
        for done in report.deleted:
            what = [f"recordings ({', '.join(done.recordings)})"] if done.recordings else []
            what += [f"{done.transcripts} transcript(s)"] if done.transcripts else []
            what += [f"{done.scores} score(s)"] if done.scores else []
            what += [f"{done.reviews} review(s)"] if done.reviews else []
            what += ["call row"] if done.call_row else []
            yield f"deleted call {done.call_id}: {', '.join(what)}"
        for job_id in report.imports_deleted:
            yield f"deleted import {job_id} (never committed): its file and preview"
    for call_id in report.held:
        yield f"kept call {call_id}: its customer has a complaint not yet closed"
    for call_id, why in report.failures:
        yield f"kept call {call_id}: {why}"
    summary = ", ".join(f"{key} {value}" for key, value in report.summary().items())
    yield f"{'would delete' if report.dry_run else 'deleted'}: {summary}"
