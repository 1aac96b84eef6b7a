"""Retention (issue 20): the planner's boundaries and complaint hold, and the job on both
databases — a dry run changes nothing, a real run removes the files, clears the columns,
deletes due transcripts and scores and audits each call once, a second run does nothing, a
closed complaint releases its calls, and call rows still named by a record are kept."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from crm.audit.models import AuditEntry
from crm.calls.models import Call, CallOutcome, Direction
from crm.clock import FixedClock
from crm.complaints.models import Complaint, ComplaintGrade, ComplaintSource, ComplaintStatus
from crm.customers import service as customers
from crm.db import Database
from crm.quality.models import CallScore
from crm.repairs.models import Repair
from crm.retention.planner import CallHeldData, RetentionPolicy, plan_retention
from crm.retention.service import RETENTION_DELETE
from crm.settings import ConfigurationError, Settings, load_settings
from crm.transcripts.models import Leg, Transcript
from telephony.recordings.files import RecordingFiles
from telephony.recordings.retention import RetentionReport, run_retention
from web.cli import cli

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
POLICY = RetentionPolicy(audio_days=180, transcripts_days=730)
MONITOR = "/var/spool/asterisk/monitor"


# The planner: pure, no database.


def held_data(
    call_id: int,
    age: timedelta,
    *,
    recordings: tuple[tuple[str, str], ...] | None = None,
    transcripts: int = 2,
    scored: bool = True,
) -> CallHeldData:
    return CallHeldData(
        call_id=call_id,
        started_at=NOW - age,
        recordings=(("recording", f"/r/{call_id}.wav"),) if recordings is None else recordings,
        transcripts=transcripts,
        scored=scored,
    )


def test_audio_is_due_at_exactly_its_days_and_not_a_second_before() -> None:
    calls = [
        held_data(1, timedelta(days=180)),
        held_data(2, timedelta(days=180) - timedelta(seconds=1)),
    ]
    plan = plan_retention(calls, now=NOW, policy=POLICY, under_open_complaint=frozenset())
    assert [d.call_id for d in plan.deletions] == [1]
    (due,) = plan.deletions
    assert due.recordings == (("recording", "/r/1.wav"),)
    assert not due.transcripts and not due.scores and not due.call_row


def test_transcripts_and_scores_are_due_at_two_years() -> None:
    calls = [
        held_data(1, timedelta(days=730)),
        held_data(2, timedelta(days=729, hours=23)),
        held_data(3, timedelta(days=800), recordings=(), transcripts=0, scored=False),
    ]
    plan = plan_retention(calls, now=NOW, policy=POLICY, under_open_complaint=frozenset())
    first, second = plan.deletions  # call 3 holds nothing more: not planned
    assert (first.call_id, first.transcripts, first.scores) == (1, True, True)
    assert (second.call_id, second.transcripts, second.scores) == (2, False, False)
    assert second.recordings  # its audio is long due


def test_zero_days_keeps_forever_and_call_rows_follow_their_own_policy() -> None:
    calls = [held_data(1, timedelta(days=5000))]
    forever = RetentionPolicy(audio_days=0, transcripts_days=0, calls_days=0)
    assert not plan_retention(
        calls, now=NOW, policy=forever, under_open_complaint=frozenset()
    ).deletions
    rows = RetentionPolicy(audio_days=180, transcripts_days=730, calls_days=3650)
    (due,) = plan_retention(calls, now=NOW, policy=rows, under_open_complaint=frozenset()).deletions
    assert due.call_row and due.transcripts and due.scores and due.recordings


def test_calls_under_an_open_complaint_are_held_not_deleted() -> None:
    calls = [held_data(1, timedelta(days=900)), held_data(2, timedelta(days=900))]
    plan = plan_retention(calls, now=NOW, policy=POLICY, under_open_complaint=frozenset({2}))
    assert [d.call_id for d in plan.deletions] == [1]
    assert plan.held == [2]
    # a call with nothing due is not reported as held either
    recent = [held_data(3, timedelta(days=1))]
    plan = plan_retention(recent, now=NOW, policy=POLICY, under_open_complaint=frozenset({3}))
    assert plan.deletions == [] and plan.held == []


def test_call_rows_may_not_be_kept_shorter_than_what_they_hold() -> None:
    with pytest.raises(ConfigurationError, match="CALLCENTRE_RETAIN_CALLS_DAYS"):
        load_settings(retain_calls_days=100)  # audio kept 180 days
    with pytest.raises(ConfigurationError, match="RETAIN_TRANSCRIPTS_DAYS"):
        load_settings(retain_calls_days=1000, retain_transcripts_days=0)
    settings = load_settings(retain_calls_days=3650)
    assert RetentionPolicy.of(settings) == RetentionPolicy(180, 730, 3650)


# The job, on SQLite and PostgreSQL.


@dataclass
class Held:
    """What the database and the recordings directory hold, for before/after comparisons."""

    calls: dict[int, tuple[str | None, str | None, str | None]]
    transcripts: dict[int, int]
    scores: set[int]
    audits: list[tuple[str | None, dict[str, Any]]]
    files: list[str]


class Scene:
    def __init__(self, db: Database, directory: Path) -> None:
        self.db = db
        self.directory = directory
        self.files = RecordingFiles(directory, pbx_dir=MONITOR)
        self.made = 0

    def path(self, name: str) -> Path:
        return self.directory / name

    async def customer(self, name: str, phone: str) -> int:
        async with self.db.session() as session:
            return (
                await customers.create(session, name=name, phones=[phone], default_area_code="029")
            ).id

    async def call(self, customer_id: int, age: timedelta, *, legs: bool = True) -> int:
        """An answered call `age` old with its three recordings on disk, two transcripts
        and a score."""
        started = NOW - age
        self.made += 1
        names = {"recording": f"c{started:%Y%m%d}-{self.made}.wav"}
        if legs:
            names["recording_agent"] = names["recording"].replace(".wav", "-in.wav")
            names["recording_customer"] = names["recording"].replace(".wav", "-out.wav")
        for name in names.values():
            self.path(name).write_bytes(b"RIFF....WAVE")
        async with self.db.session() as session:
            call = Call(
                linkedid=f"retention.{self.made}",
                direction=Direction.INBOUND,
                started_at=started,
                answered_at=started + timedelta(seconds=5),
                ended_at=started + timedelta(minutes=3),
                outcome=CallOutcome.ANSWERED,
                customer_id=customer_id,
                customer_number="13800138000",
                **{column: f"{MONITOR}/{name}" for column, name in names.items()},
            )
            session.add(call)
            await session.flush()
            for leg in Leg:
                session.add(
                    Transcript(
                        call_id=call.id,
                        leg=leg,
                        words=[{"word": "您好", "start": 0.0, "end": 0.5, "conf": 1.0}],
                        text="您好",
                        model="test",
                        duration=180.0,
                        file=f"{MONITOR}/{names['recording']}",
                    )
                )
            session.add(
                CallScore(
                    call_id=call.id,
                    score=90,
                    max_score=100,
                    points_lost=10,
                    rules=[],
                    rules_version="1",
                    rules_digest="d",
                    scored_at=started + timedelta(minutes=10),
                )
            )
            return call.id

    async def complaint(self, customer_id: int) -> int:
        async with self.db.session() as session:
            complaint = Complaint(
                customer_id=customer_id,
                source=ComplaintSource.API,
                department="工程部",
                category="施工质量",
                description="墙面开裂",
                grade=ComplaintGrade.GENERAL,
                received_at=NOW - timedelta(days=1),
                clocks_from=NOW - timedelta(days=1),
            )
            session.add(complaint)
            await session.flush()
            return complaint.id

    async def state(self) -> Held:
        async with self.db.session() as session:
            calls = {
                c.id: (c.recording, c.recording_agent, c.recording_customer)
                for c in await session.scalars(select(Call))
            }
            rows = await session.execute(
                select(Transcript.call_id, func.count()).group_by(Transcript.call_id)
            )
            transcripts = {int(call_id): int(count) for call_id, count in rows}
            scores = set(await session.scalars(select(CallScore.call_id)))
            audits = list(
                await session.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.action == RETENTION_DELETE)
                    .order_by(AuditEntry.id)
                )
            )
        files = sorted(p.name for p in self.directory.iterdir())
        return Held(calls, transcripts, scores, [(a.entity_id, a.detail) for a in audits], files)

    async def run(
        self, *, dry_run: bool = False, policy: RetentionPolicy = POLICY, now: datetime = NOW
    ) -> RetentionReport:
        return await run_retention(self.db, self.files, policy=policy, now=now, dry_run=dry_run)


@pytest.fixture
def scene(db: Database, tmp_path: Path) -> Iterator[Scene]:
    directory = tmp_path / "recordings"
    directory.mkdir()
    yield Scene(db, directory)


async def test_dry_run_real_run_and_second_run(scene: Scene) -> None:
    wang = await scene.customer("王建国", "13800138000")
    recent = await scene.call(wang, timedelta(days=10))
    old = await scene.call(wang, timedelta(days=200))
    ancient = await scene.call(wang, timedelta(days=800), legs=False)
    before = await scene.state()

    dry = await scene.run(dry_run=True)
    assert [d.call_id for d in dry.planned] == [old, ancient]  # in call order
    assert await scene.state() == before  # files, columns, rows and audit untouched

    report = await scene.run()
    after = await scene.state()
    assert after.calls == {
        recent: before.calls[recent],
        old: (None, None, None),
        ancient: (None, None, None),
    }
    assert after.files == sorted(Path(p).name for p in before.calls[recent] if p is not None)
    assert after.transcripts == {recent: 2, old: 2}  # two years not reached for `old`
    assert after.scores == {recent, old}
    assert after.audits == [
        (
            str(old),
            {
                "recordings": ["recording", "recording_agent", "recording_customer"],
                "transcripts": 0,
                "scores": 0,
                "reviews": 0,
                "call_row": False,
                "policy": POLICY.as_dict(),
            },
        ),
        (
            str(ancient),
            {
                "recordings": ["recording"],
                "transcripts": 2,
                "scores": 1,
                "reviews": 0,
                "call_row": False,
                "policy": POLICY.as_dict(),
            },
        ),
    ]
    assert report.files_removed == 4 and report.files_missing == 0 and not report.failures

    again = await scene.run()
    assert again.planned == [] and again.deleted == []
    assert await scene.state() == after


async def test_a_complaint_holds_its_customers_calls_until_it_closes(scene: Scene) -> None:
    wang = await scene.customer("王建国", "13800138000")
    li = await scene.customer("李娜", "13900139000")
    wangs = await scene.call(wang, timedelta(days=200))
    lis = await scene.call(li, timedelta(days=200))
    complaint = await scene.complaint(li)

    report = await scene.run()
    assert [d.call_id for d in report.deleted] == [wangs]
    assert report.held == [lis]
    assert (await scene.state()).calls[lis][0] is not None

    async with scene.db.session() as session:  # resolved is not closed: still held
        (await session.get_one(Complaint, complaint)).status = ComplaintStatus.RESOLVED
    assert (await scene.run()).held == [lis]

    async with scene.db.session() as session:
        (await session.get_one(Complaint, complaint)).status = ComplaintStatus.CLOSED
    report = await scene.run()
    assert [d.call_id for d in report.deleted] == [lis] and report.held == []
    assert (await scene.state()).calls[lis] == (None, None, None)


async def test_call_rows_past_their_time_go_unless_a_record_names_them(scene: Scene) -> None:
    wang = await scene.customer("王建国", "13800138000")
    named = await scene.call(wang, timedelta(days=4000))
    free = await scene.call(wang, timedelta(days=4000))
    async with scene.db.session() as session:
        session.add(
            Repair(
                customer_id=wang,
                call_id=named,
                description="漏水",
                crew="一队",
                reported_at=NOW - timedelta(days=4000),
                arrival_due_at=NOW - timedelta(days=3999),
            )
        )
    policy = RetentionPolicy(audio_days=180, transcripts_days=730, calls_days=3650)
    report = await scene.run(policy=policy)
    state = await scene.state()
    assert set(state.calls) == {named}
    assert state.calls[named] == (None, None, None)
    assert state.transcripts == {} and state.scores == set() and state.files == []
    assert [call_id for call_id, _ in report.failures] == [named]
    deleted = {d.call_id: d.call_row for d in report.deleted}
    assert deleted == {free: True, named: False}


async def test_a_missing_file_is_no_failure_and_a_refused_path_keeps_the_call(
    scene: Scene,
) -> None:
    wang = await scene.customer("王建国", "13800138000")
    gone = await scene.call(wang, timedelta(days=200), legs=False)
    refused = await scene.call(wang, timedelta(days=200), legs=False)
    for path in scene.directory.iterdir():
        path.unlink()
    async with scene.db.session() as session:
        (await session.get_one(Call, refused)).recording = "/etc/../etc/passwd"
    report = await scene.run()
    assert [d.call_id for d in report.deleted] == [gone]
    assert report.files_missing == 1 and report.files_removed == 0
    assert [call_id for call_id, _ in report.failures] == [refused]
    assert Path("/etc/passwd").exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_command_prints_what_it_would_and_did_delete(
    scene: Scene, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    wang = await scene.customer("王建国", "13800138000")
    old = await scene.call(wang, timedelta(days=400))
    # the command reads the system clock: ages are relative to it
    monkeypatch.setattr("crm.clock.SystemClock.now", lambda self: NOW)
    env = {
        "CALLCENTRE_DATABASE_URL": settings.database_url,
        "CALLCENTRE_RECORDINGS_DIR": str(scene.directory),
    }
    runner = CliRunner()
    dry = await_in_thread(runner, ["retention", "--dry-run"], env)
    assert dry.exit_code == 0, dry.output
    assert f"would delete call {old}: 3 recording(s)" in dry.output
    assert "dry run: nothing deleted" in dry.output
    assert len(list(scene.directory.iterdir())) == 3
    real = await_in_thread(runner, ["retention"], env)
    assert real.exit_code == 0, real.output
    assert (
        f"deleted call {old}: recordings (recording, recording_agent, recording_customer)"
        in real.output
    )
    assert list(scene.directory.iterdir()) == []
    assert (await scene.state()).audits[0][1]["recordings"]


def await_in_thread(runner: CliRunner, args: list[str], env: dict[str, str]) -> Result:
    """The command runs its own event loop: in a thread, beside the test's."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(runner.invoke, cli, args, env=env).result()


async def test_the_worker_pass_reads_the_injected_clock(scene: Scene, settings: Settings) -> None:
    from types import SimpleNamespace
    from typing import cast

    from web.runtime.retention_schedule import retention_pass
    from web.services import Services

    wang = await scene.customer("王建国", "13800138000")
    call = await scene.call(wang, timedelta(days=100))
    clock = FixedClock(NOW)
    svc = cast(
        Services,
        SimpleNamespace(
            database=scene.db, recording_files=scene.files, settings=settings, clock=clock
        ),
    )
    assert (await retention_pass(svc)).deleted == []
    clock.advance(days=80)
    assert [d.call_id for d in (await retention_pass(svc)).deleted] == [call]
