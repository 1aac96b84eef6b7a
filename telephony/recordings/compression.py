"""The compression step after transcription: each WAV recording of a transcribed call
replaced by an Ogg Opus file (`telephony.recordings.opus`), as a job that cannot be lost.

The job (`crm.recordings`) is queued in the transaction that stores the call's transcripts;
the transcription worker runs it right after, and its loops pick up any job left over (a
crash, a retry that became due). For each recording column that still names a WAV:

1. the Ogg is written beside the WAV under a temporary name, synced, renamed, and decoded in
   full against the WAV (a crash here leaves the WAV as it was, and the retry starts over);
2. one transaction, only while the job's lease is ours, points the call's column at the Ogg
   and records its format and size; a column changed meanwhile (erased, deleted by
   retention) is left alone and the new Ogg removed;
3. the WAV is removed. A crash before that leaves a WAV whose column already names the Ogg:
   the retry finds it by the suffix the job recorded and removes it.

So every step may run again: the job is idempotent, and the WAV goes only once its Ogg is
durable, verified and named by the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import PurePosixPath

from crm.clock import Clock
from crm.db import Database
from crm.recordings.models import AudioFormat, CompressionStatus
from crm.recordings.service import (
    CompressionClaim,
    StoredFile,
    claim_compression,
    fail_compression,
    finish_compression,
    renew_compression,
    replace_recording,
)
from telephony.recordings.errors import RecordingError, RecordingNotFound
from telephony.recordings.files import RecordingFiles
from telephony.recordings.opus import OpusError, encode, ogg_path_of

log = logging.getLogger(__name__)


class _LeaseLost(Exception):
    """Another worker took the job over: it finishes the job, we stop touching files."""


@dataclass(frozen=True, slots=True)
class Compressed:
    """One finished run of a call's job."""

    call_id: int
    files: int  # WAVs replaced in this run
    wav_bytes: int
    ogg_bytes: int


def ogg_stored_path(stored: str) -> str:
    """The path the call names once its WAV at `stored` is compressed (same spelling)."""
    return str(PurePosixPath(stored).with_suffix(".ogg"))


class RecordingCompressor:
    """Runs compression jobs; one per worker process (thread-safe through `files`)."""

    def __init__(
        self,
        database: Database,
        files: RecordingFiles,
        *,
        clock: Clock,
        worker: str,
        lease_seconds: float = 300.0,
        retry_delay: float = 60.0,
        max_attempts: int = 4,
    ) -> None:
        self.database, self.files, self.clock, self.worker = database, files, clock, worker
        self.lease_seconds, self.retry_delay, self.max_attempts = (
            lease_seconds,
            retry_delay,
            max_attempts,
        )

    async def run_for_call(self, call_id: int) -> Compressed | None:
        """Run the call's job now if it is claimable (just queued by the transcription)."""
        return await self._run(await self._claim(call_id))

    async def run_one(self) -> bool:
        """Run the oldest claimable job; False when there was none."""
        claim = await self._claim(None)
        await self._run(claim)
        return claim is not None

    async def _claim(self, call_id: int | None) -> CompressionClaim | None:
        async with self.database.session() as session:
            return await claim_compression(
                session,
                worker=self.worker,
                now=self.clock.now(),
                lease_seconds=self.lease_seconds,
                max_attempts=self.max_attempts,
                call_id=call_id,
            )

    async def _run(self, claim: CompressionClaim | None) -> Compressed | None:
        if claim is None:
            return None
        keeper = asyncio.create_task(self._keep_lease(claim))
        try:
            done = await self._compress(claim)
            async with self.database.session() as session:
                if not await finish_compression(
                    session, job_id=claim.job_id, worker=self.worker, now=self.clock.now()
                ):
                    raise _LeaseLost
        except _LeaseLost:
            log.warning("call %s: compression taken over by another worker", claim.call_id)
            return None
        except Exception as exc:
            await self._failed(claim, exc)
            return None
        finally:
            keeper.cancel()
        if done.files:
            log.info(
                "call %s: %d recording(s) compressed, %d -> %d bytes",
                claim.call_id,
                done.files,
                done.wav_bytes,
                done.ogg_bytes,
            )
        return done

    async def _compress(self, claim: CompressionClaim) -> Compressed:
        files = wav_bytes = ogg_bytes = 0
        for column, stored in claim.recordings.items():
            if AudioFormat.of_path(stored) is AudioFormat.OGG_OPUS:
                await self._remove_leftover_wav(stored, claim.files.get(column))
                continue
            replaced = await self._replace(claim, column, stored)
            if replaced is not None:
                files += 1
                wav_bytes += replaced.wav_bytes
                ogg_bytes += replaced.bytes
        return Compressed(claim.call_id, files, wav_bytes, ogg_bytes)

    async def _replace(
        self, claim: CompressionClaim, column: str, stored: str
    ) -> StoredFile | None:
        try:
            wav = await asyncio.to_thread(self.files.find, stored)
        except RecordingNotFound:
            # Gone from here and from the PBX (removed by hand, or never copied): nothing to
            # compress, and the player says so as before.
            log.warning("call %s: %s not found; not compressed", claim.call_id, column)
            return None
        ogg_stored = ogg_stored_path(stored)
        ogg = ogg_path_of(wav)
        encoded = await asyncio.to_thread(encode, wav, ogg)
        stored_file = StoredFile(
            format=AudioFormat.OGG_OPUS,
            bytes=encoded.ogg_bytes,
            wav_bytes=encoded.wav_bytes,
            seconds=encoded.seconds,
            wav_suffix=wav.suffix,
        )
        async with self.database.session() as session:
            switched = await replace_recording(
                session,
                job_id=claim.job_id,
                worker=self.worker,
                call_id=claim.call_id,
                column=column,
                wav=stored,
                ogg=ogg_stored,
                stored=stored_file,
            )
            if switched is None:
                raise _LeaseLost
        if not switched:  # erased or deleted meanwhile: the copy must not outlive it
            with contextlib.suppress(OSError):
                ogg.unlink()
            return None
        await asyncio.to_thread(partial(self.files.remove, stored, with_copies=False))
        return stored_file

    async def _remove_leftover_wav(self, ogg_stored: str, recorded: object) -> None:
        """A crash after the switch left the WAV: remove it now (never fetching anything)."""
        if not isinstance(recorded, dict) or "wav_suffix" not in recorded:
            return  # an Ogg the job did not write: nothing of ours to remove
        wav_stored = str(PurePosixPath(ogg_stored).with_suffix(str(recorded["wav_suffix"])))
        if await asyncio.to_thread(partial(self.files.remove, wav_stored, with_copies=False)):
            log.info("removed a WAV left behind by an interrupted compression")

    async def _failed(self, claim: CompressionClaim, exc: Exception) -> None:
        if isinstance(exc, OpusError | RecordingError):
            error = str(exc)
        else:
            error = f"{type(exc).__name__}: {exc}"
            log.error("call %s: unexpected compression error", claim.call_id, exc_info=exc)
        now = self.clock.now()
        try:
            async with self.database.session() as session:
                status = await fail_compression(
                    session,
                    job_id=claim.job_id,
                    worker=self.worker,
                    now=now,
                    error=error,
                    max_attempts=self.max_attempts,
                    retry_at=now + timedelta(seconds=self.retry_delay * claim.attempt),
                )
        except Exception:
            log.exception("call %s: could not record the failed compression", claim.call_id)
            return
        level = logging.ERROR if status is CompressionStatus.FAILED else logging.WARNING
        log.log(level, "call %s: compression attempt %s: %s", claim.call_id, claim.attempt, error)

    async def _keep_lease(self, claim: CompressionClaim) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                async with self.database.session() as session:
                    until = self.clock.now() + timedelta(seconds=self.lease_seconds)
                    if not await renew_compression(
                        session, job_id=claim.job_id, worker=self.worker, until=until
                    ):
                        return
            except Exception:
                log.exception("call %s: could not renew the compression lease", claim.call_id)
