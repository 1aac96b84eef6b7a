"""The transcription worker: claims queued calls, transcribes both legs, scores, stores.

Each job is leased (`crm.transcripts.service.claim_next_job`) and the lease renewed while the
legs are transcribed; results are written in one transaction that first checks the lease is
still ours, so a worker that was presumed dead and overtaken cannot store a second copy. A
failed attempt is queued again after `retry_delay × attempts` seconds until
`settings.transcription_max_retries` retries are spent, then the job is `failed` with the
error. A job left `running` by a killed worker or a restart is taken over once its lease runs
out. Several workers may share a PostgreSQL database; on SQLite run one process.

Once a call's transcripts are stored, its recordings are compressed to Ogg Opus
(`telephony.recordings.compression`, unless CALLCENTRE_RECORDINGS_COMPRESS is false): a job
of its own, queued in the same transaction, run right away and picked up again by the loops
when it was interrupted. Transcription always reads the WAV before it is replaced, so the
stored words and times are those of the PBX's own recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from crm.calls import service as calls
from crm.clock import Clock
from crm.db import Database
from crm.quality.rules import RulesError, Scorecard, load_rules
from crm.quality.scorecard import ScoredCallFacts, ScoreResult, SpokenWord, score
from crm.quality.service import CallToScore, call_to_score, save_score
from crm.recordings.service import enqueue_compression
from crm.settings import Settings
from crm.transcripts.models import Leg
from crm.transcripts.service import (
    JobClaim,
    claim_job,
    claim_next_job,
    fail_attempt,
    finish_job,
    renew_lease,
    save_transcript,
)
from telephony.process_name import process_name
from telephony.recordings.compression import RecordingCompressor
from telephony.recordings.errors import RecordingError
from telephony.recordings.files import RecordingFiles
from telephony.speech.errors import TranscriptionError
from telephony.speech.pool import TranscriptionPool
from telephony.speech.recognizer import Transcript
from telephony.speech.status import open_pool

if TYPE_CHECKING:
    from crm.transcripts.models import TranscriptionJob

log = logging.getLogger(__name__)


class Transcriber(Protocol):
    """What the worker needs of a pool (TranscriptionPool; tests may replay transcripts)."""

    workers: int

    def submit(self, path: Path) -> Future[Transcript]: ...


@dataclass(frozen=True, slots=True)
class _Claim:
    job_id: int
    call_id: int
    attempt: int
    facts: ScoredCallFacts
    recordings: dict[Leg, str]

    @classmethod
    def of(cls, job: TranscriptionJob, call: CallToScore) -> _Claim:
        return cls(job.id, call.call_id, job.attempts, call.facts, call.recordings)


class _LeaseLost(Exception):
    """Another worker took the job over (our lease ran out): our results are not stored."""


def worker_id() -> str:
    return f"{process_name()}:{uuid.uuid4().hex[:6]}"


class TranscriptionWorker:
    """Claims and processes jobs with a pool it is given; see `run_transcription_worker`."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        pool: Transcriber,
        *,
        clock: Clock,
        name: str | None = None,
        lease_seconds: float = 300.0,
        retry_delay: float = 60.0,
        poll_seconds: float = 2.0,
    ) -> None:
        self.database, self.settings, self.pool = database, settings, pool
        self.clock = clock
        self.name = name or worker_id()
        self.lease_seconds, self.retry_delay, self.poll_seconds = (
            lease_seconds,
            retry_delay,
            poll_seconds,
        )
        self.max_attempts = 1 + settings.transcription_max_retries
        self.recordings = RecordingFiles.of(settings, clock)
        self.compressor: RecordingCompressor | None = None
        if settings.recordings_compress:
            self.compressor = RecordingCompressor(
                database,
                self.recordings,
                clock=clock,
                worker=self.name,
                lease_seconds=lease_seconds,
                retry_delay=retry_delay,
                max_attempts=self.max_attempts,
            )

    async def run(
        self,
        *,
        until_idle: bool = False,
        stop: asyncio.Event | None = None,
        concurrency: int | None = None,
    ) -> int:
        """Process jobs until `stop` is set, or (`until_idle`) none is claimable; how many."""
        stop = stop or asyncio.Event()
        loops = concurrency or self.pool.workers
        counts = await asyncio.gather(*(self._loop(until_idle, stop) for _ in range(loops)))
        return sum(counts)

    async def _loop(self, until_idle: bool, stop: asyncio.Event) -> int:
        processed = 0
        while not stop.is_set():
            try:
                worked = await self.run_one()
            except Exception:
                if until_idle:
                    raise
                # The database is away (restart, network): the leases keep the jobs safe.
                log.exception("transcription worker: cannot reach the job queue; retrying")
                worked = False
            if worked:
                processed += 1
            elif await self.compress_pending():
                continue  # leftover compressions run while no call waits for transcription
            elif until_idle:
                break
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_seconds)
        return processed

    async def compress_pending(self) -> bool:
        """Run one leftover compression job (a crash, a retry now due); whether there was one.
        A failure is the job's own (recorded, retried): never the transcription loop's."""
        if self.compressor is None:
            return False
        try:
            return await self.compressor.run_one()
        except Exception:
            log.exception("recording compression: cannot reach the job queue; retrying")
            return False

    async def run_one(self) -> bool:
        """Claim one job and see it through; False when there was nothing to claim."""
        claim = await self._claim()
        if claim is None:
            return False
        await self.process(claim)
        return True

    async def claim_given(self, job_id: int) -> tuple[_Claim | None, JobClaim]:
        """Claim the job a queue handed us (see `claim_job` for what else may come of it)."""
        async with self.database.session() as session:
            outcome = await claim_job(
                session,
                job_id=job_id,
                worker=self.name,
                now=self.clock.now(),
                lease_seconds=self.lease_seconds,
                max_attempts=self.max_attempts,
            )
            if outcome.job is None:
                return None, outcome
            call = await call_to_score(session, call_id=outcome.job.call_id)
            return _Claim.of(outcome.job, call), outcome

    async def process(
        self, claim: _Claim, keep_alive: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Transcribe, score and store a claimed job, renewing its lease (and calling
        `keep_alive` each time) meanwhile; a failure is recorded as a failed attempt."""
        log.info("call %s: transcribing (attempt %s)", claim.call_id, claim.attempt)
        keeper = asyncio.create_task(self._keep_lease(claim, keep_alive))
        try:
            transcripts = await self._transcribe(claim)
            scored, note = await asyncio.to_thread(self._score, claim, transcripts)
            await self._store(claim, transcripts, scored, note)
        except _LeaseLost:
            log.warning("call %s: lease lost to another worker; result discarded", claim.call_id)
            return
        except Exception as exc:
            await self._failed(claim, exc)
            return
        finally:
            keeper.cancel()
        if self.compressor is not None:  # the next step, queued with the transcripts
            try:
                await self.compressor.run_for_call(claim.call_id)
            except Exception:  # the database away: the queued job is run later
                log.exception("call %s: compression not started; retried later", claim.call_id)

    async def _claim(self) -> _Claim | None:
        async with self.database.session() as session:
            job = await claim_next_job(
                session,
                worker=self.name,
                now=self.clock.now(),
                lease_seconds=self.lease_seconds,
                max_attempts=self.max_attempts,
            )
            if job is None:
                return None
            return _Claim.of(job, await call_to_score(session, call_id=job.call_id))

    async def _recording(self, stored: str) -> Path:
        """The leg's file here (fetched from the PBX if configured); a missing one fails
        this attempt with the reason, and the job's retries try again later."""
        try:
            return await asyncio.to_thread(self.recordings.find, stored)
        except RecordingError as exc:
            raise TranscriptionError(str(exc)) from exc

    async def _transcribe(self, claim: _Claim) -> dict[Leg, Transcript]:
        files = {leg: await self._recording(stored) for leg, stored in claim.recordings.items()}
        # A call stored compressed and read again is decoded by the recogniser itself.
        futures = {leg: asyncio.wrap_future(self.pool.submit(path)) for leg, path in files.items()}
        outcomes = await asyncio.gather(*futures.values(), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return dict(zip(futures, outcomes, strict=True))  # type: ignore[arg-type]

    def _score(
        self, claim: _Claim, transcripts: dict[Leg, Transcript]
    ) -> tuple[tuple[ScoreResult, Scorecard] | None, str | None]:
        """The score and its scorecard, or why there is none: a broken rules file must not
        lose the transcripts (the job records the problem; the call can be re-scored)."""
        try:
            card = load_rules(self.settings.qa_rules_path)
        except RulesError as exc:
            log.error("call %s not scored: %s", claim.call_id, exc)
            return None, f"not scored: {exc}"
        words = [
            SpokenWord(leg, w.word, w.start, w.end)
            for leg, transcript in transcripts.items()
            for w in transcript.words
        ]
        return (score(card, claim.facts, words), card), None

    async def _store(
        self,
        claim: _Claim,
        transcripts: dict[Leg, Transcript],
        scored: tuple[ScoreResult, Scorecard] | None,
        note: str | None,
    ) -> None:
        now = self.clock.now()
        async with self.database.session() as session:
            if not await finish_job(
                session, job_id=claim.job_id, worker=self.name, now=now, note=note
            ):
                raise _LeaseLost
            for leg, transcript in transcripts.items():
                await save_transcript(
                    session,
                    call_id=claim.call_id,
                    leg=leg,
                    words=[w.as_json() for w in transcript.words],
                    model=transcript.model,
                    duration=transcript.duration,
                    file=transcript.file,
                )
            if self.compressor is not None:
                await enqueue_compression(session, call_id=claim.call_id)
            if scored is not None:
                call = await calls.get(session, call_id=claim.call_id)
                assert call is not None  # a job's call is never deleted (a foreign key)
                await save_score(session, call=call, result=scored[0], card=scored[1], at=now)
        log.info(
            "call %s transcribed%s",
            claim.call_id,
            f", scored {scored[0].score}/{scored[0].max}" if scored else f"; {note}",
        )

    async def _failed(self, claim: _Claim, exc: Exception) -> None:
        if isinstance(exc, TranscriptionError):
            error = str(exc)
        else:  # a bug or the database: keep the type, and the traceback in the log
            error = f"{type(exc).__name__}: {exc}"
            log.error("call %s: unexpected error", claim.call_id, exc_info=exc)
        now = self.clock.now()
        retry_at = now + timedelta(seconds=self.retry_delay * claim.attempt)
        try:
            async with self.database.session() as session:
                status = await fail_attempt(
                    session,
                    job_id=claim.job_id,
                    worker=self.name,
                    now=now,
                    error=error,
                    max_attempts=self.max_attempts,
                    retry_at=retry_at,
                )
        except Exception:
            log.exception(
                "call %s: could not record the failed attempt (the lease will "
                "expire and the job be retried)",
                claim.call_id,
            )
            return
        log.warning(
            "call %s: attempt %s of %s failed (%s): %s",
            claim.call_id,
            claim.attempt,
            self.max_attempts,
            status,
            error,
        )

    async def _keep_lease(
        self, claim: _Claim, keep_alive: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if keep_alive is not None:
                try:
                    await keep_alive()
                except Exception:
                    log.exception("call %s: could not refresh its queue entry", claim.call_id)
            try:
                async with self.database.session() as session:
                    until = self.clock.now() + timedelta(seconds=self.lease_seconds)
                    if not await renew_lease(
                        session, job_id=claim.job_id, worker=self.name, until=until
                    ):
                        return  # taken over: storing will find out and discard our result
            except Exception:
                log.exception("call %s: could not renew the lease", claim.call_id)


async def run_transcription_worker(
    database: Database,
    settings: Settings,
    *,
    clock: Clock,
    pool: Transcriber | None = None,
    until_idle: bool = False,
    stop: asyncio.Event | None = None,
    lease_seconds: float = 300.0,
    retry_delay: float = 60.0,
    poll_seconds: float = 2.0,
) -> int:
    """Transcribe and score queued calls until `stop` is set (or, `until_idle`, until none is
    claimable); returns how many jobs were processed. A pool is opened (and closed) here
    unless one is given. Crashed workers are not retried inside the pool: the job's own
    attempts count them."""
    own_pool: TranscriptionPool | None = None
    if pool is None:
        own_pool = pool = await asyncio.to_thread(lambda: open_pool(settings, clock=clock).start())
    worker = TranscriptionWorker(
        database,
        settings,
        pool,
        clock=clock,
        lease_seconds=lease_seconds,
        retry_delay=retry_delay,
        poll_seconds=poll_seconds,
    )
    try:
        return await worker.run(until_idle=until_idle, stop=stop)
    finally:
        if own_pool is not None:
            await asyncio.to_thread(own_pool.close)
