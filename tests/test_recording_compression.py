"""Recordings compressed to Ogg Opus after transcription (issue 20): at least 8x smaller than
the WAVs on realistic speech, decoded to the same length; the stored transcripts and word
times are those of the WAV; the job survives a crash at each step (the WAV is removed only
once the Ogg is synced, verified and named by the call) and runs again harmlessly; the QA
endpoint serves Ogg with Range requests, and mixes compressed legs."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import soundfile
from sqlalchemy import delete

from crm.calls.models import Call, CallOutcome, Direction, HungUpBy
from crm.calls.service import oldest_recording_started_at
from crm.clock import FixedClock, SystemClock
from crm.db import Database
from crm.recordings.models import AudioFormat, CompressionStatus, RecordingCompression
from crm.recordings.service import compression_totals, enqueue_compression, get_compression
from crm.settings import Settings, load_settings
from crm.transcripts.flows import on_call_ended
from crm.transcripts.models import JobStatus, Transcript
from crm.transcripts.service import get_job, get_transcripts
from telephony.recordings import compression as compression_module
from telephony.recordings.compression import RecordingCompressor
from telephony.recordings.files import RecordingFiles
from telephony.recordings.opus import OpusError, encode, verify
from telephony.speech.pool import TranscriptionPool
from telephony.speech.recognizer import Transcript as Heard
from telephony.speech.worker import run_transcription_worker
from tests.data import speech_audio as audio
from tests.support.api import running_app

MONITOR = "/var/spool/asterisk/monitor"
CALL_SECONDS = 3.5
STEM = "inbound-1001"


class Crash(BaseException):
    """The process dies here: nothing after this point runs, no failure is recorded."""


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One call's two legs of Korean speech (the test model's language), made once."""
    d = tmp_path_factory.mktemp("spoken")
    greeting = audio.speak(audio.GREETING, d / "greeting.tmp.wav")
    question = audio.speak(audio.QUESTION, d / "question.tmp.wav")
    audio.leg(greeting, d / f"{STEM}-agent.wav", start=0.3, total=CALL_SECONDS)
    audio.leg(question, d / f"{STEM}-customer.wav", start=1.9, total=CALL_SECONDS)
    return d


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A minute of one side of a phone conversation: sentences of Mandarin speech with the
    pauses of someone listening between them, 8 kHz 16-bit mono as the PBX records."""
    return audio.conversation(tmp_path_factory.mktemp("conversation") / "conversation.wav")


@pytest.fixture(scope="module")
def pool() -> Iterator[TranscriptionPool]:
    with TranscriptionPool(audio.KOREAN_MODEL, workers=2, clock=SystemClock()).start() as shared:
        yield shared


@pytest.fixture
def recordings(tmp_path: Path, spoken: Path) -> Path:
    """This test's own copy of the legs: compression removes them."""
    d = tmp_path / "recordings"
    d.mkdir()
    for leg in ("agent", "customer"):
        shutil.copy(spoken / f"{STEM}-{leg}.wav", d / f"{STEM}-{leg}.wav")
    return d


@pytest.fixture
def settings(database_url: str, recordings: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        vosk_model_path=audio.KOREAN_MODEL,
        recordings_dir=recordings,
        transcription_max_retries=2,
        default_area_code="029",
        disk_warn_percent=0,
    )


class Replay:
    """Transcripts of the legs decoded once by the real model (tests about the job)."""

    workers = 1

    def __init__(self, heard: dict[str, Heard]) -> None:
        self.heard = heard

    def submit(self, path: Path) -> Future[Heard]:
        future: Future[Heard] = Future()
        future.set_result(self.heard[path.name])
        return future


async def add_call(database: Database) -> int:
    started = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    async with database.session() as session:
        call = Call(
            linkedid="1700000000.1",
            direction=Direction.INBOUND,
            started_at=started,
            answered_at=started + timedelta(seconds=4),
            ended_at=started + timedelta(seconds=30),
            outcome=CallOutcome.ANSWERED,
            ring_seconds=4.0,
            hung_up_by=HungUpBy.CUSTOMER,
            recording_agent=f"{MONITOR}/{STEM}-agent.wav",
            recording_customer=f"{STEM}-customer.wav",  # relative: the other spelling
        )
        session.add(call)
        await session.flush()
        return call.id


async def call_of(database: Database, call_id: int) -> Call:
    async with database.session() as session:
        call = await session.get(Call, call_id)
        assert call is not None
        return call


async def job_of(database: Database, call_id: int) -> RecordingCompression:
    async with database.session() as session:
        job = await get_compression(session, call_id=call_id)
        assert job is not None
        return job


def frames(path: Path) -> tuple[int, int]:
    info = soundfile.info(str(path))
    return info.frames, info.samplerate


def compressor(db: Database, settings: Settings, clock: FixedClock, **kw: Any) -> Any:
    return RecordingCompressor(
        db,
        RecordingFiles.of(settings, clock),
        clock=clock,
        worker=kw.pop("worker", "w1"),
        lease_seconds=60,
        retry_delay=10,
        max_attempts=kw.pop("max_attempts", 3),
    )


# --- the codec ------------------------------------------------------------------------------


def test_speech_is_over_8x_smaller_and_decodes_to_every_sample(
    conversation: Path, tmp_path: Path
) -> None:
    wav = tmp_path / "call.wav"
    shutil.copy(conversation, wav)
    wav_frames, rate = frames(wav)
    assert rate == 8000 and wav_frames / rate > 50  # a realistic minute, not a blip

    encoded = encode(wav, tmp_path / "call.ogg")

    ratio = encoded.wav_bytes / encoded.ogg_bytes
    assert ratio >= 8, f"only {ratio:.1f}x smaller"
    info = soundfile.info(str(tmp_path / "call.ogg"))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("OGG", "OPUS", 8000, 1)
    # Pre-skip and end trimming are written: the same number of samples, so a word's time in
    # the transcript is the same moment in the compressed file.
    assert encoded.frames == wav_frames == info.frames
    assert wav.is_file() and not list(tmp_path.glob(".*.part"))  # the WAV is not touched
    # The sound is the speech, not a blank of the right length: loud where the WAV is loud.
    original, _ = soundfile.read(str(wav), dtype="float32")
    decoded, _ = soundfile.read(str(tmp_path / "call.ogg"), dtype="float32")
    loud = abs(original) > 0.1
    assert abs(decoded[loud]).mean() > 0.5 * abs(original[loud]).mean()
    assert abs(decoded[abs(original) < 0.001]).mean() < 0.01


def test_an_ogg_that_does_not_match_its_wav_is_refused(spoken: Path, tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    shutil.copy(spoken / f"{STEM}-agent.wav", wav)
    encoded = encode(wav, tmp_path / "a.ogg")
    with pytest.raises(OpusError, match="decodes to"):
        verify(tmp_path / "a.ogg", rate=8000, channels=1, frames=encoded.frames + 8000)
    (tmp_path / "b.ogg").write_bytes((tmp_path / "a.ogg").read_bytes()[:300])  # cut short
    with pytest.raises(OpusError):
        verify(tmp_path / "b.ogg", rate=8000, channels=1, frames=encoded.frames)
    (tmp_path / "c.wav").write_text("not audio")
    with pytest.raises(OpusError, match="cannot be read"):
        encode(tmp_path / "c.wav", tmp_path / "c.ogg")
    assert not (tmp_path / "c.ogg").exists()


# --- after transcription --------------------------------------------------------------------


async def test_the_worker_transcribes_the_wavs_then_stores_them_compressed(
    db: Database,
    settings: Settings,
    pool: TranscriptionPool,
    clock: FixedClock,
    recordings: Path,
) -> None:
    wavs = {leg: recordings / f"{STEM}-{leg}.wav" for leg in ("agent", "customer")}
    lengths = {leg: frames(path) for leg, path in wavs.items()}
    sizes = {leg: path.stat().st_size for leg, path in wavs.items()}
    # What the recogniser hears in the WAVs themselves, before anything is compressed.
    before = {leg: pool.submit(path).result(timeout=60) for leg, path in wavs.items()}
    call_id = await add_call(db)
    await on_call_ended(db, call_id)

    assert (
        await run_transcription_worker(db, settings, pool=pool, clock=clock, until_idle=True) == 1
    )

    async with db.session() as session:
        stored = {t.leg.value: t for t in await get_transcripts(session, call_id=call_id)}
        transcription = await get_job(session, call_id=call_id)
    assert transcription is not None and transcription.status is JobStatus.DONE
    for leg, heard in before.items():
        assert stored[leg].words == [w.as_json() for w in heard.words]  # words and times
        assert stored[leg].words, "the test speech must be heard"
        assert stored[leg].duration == heard.duration
    # The WAVs are gone, the call names each leg's Ogg, which lasts as long to the sample.
    assert not any(path.exists() for path in wavs.values())
    call = await call_of(db, call_id)
    assert call.recording_agent == f"{MONITOR}/{STEM}-agent.ogg"
    assert call.recording_customer == f"{STEM}-customer.ogg"
    for leg in wavs:
        ogg = recordings / f"{STEM}-{leg}.ogg"
        assert frames(ogg) == lengths[leg]
    job = await job_of(db, call_id)
    assert (job.status, job.attempts, job.last_error) == (CompressionStatus.DONE, 1, None)
    assert job.files["recording_agent"]["format"] == AudioFormat.OGG_OPUS.value
    assert (
        job.files["recording_agent"]["bytes"] == (recordings / f"{STEM}-agent.ogg").stat().st_size
    )
    assert job.files["recording_agent"]["seconds"] == pytest.approx(CALL_SECONDS, abs=0.01)
    assert job.wav_bytes == sum(sizes.values())
    assert job.stored_bytes == sum(
        (recordings / f"{STEM}-{leg}.ogg").stat().st_size for leg in wavs
    )
    async with db.session() as session:
        totals = await compression_totals(session)
        # The disk metrics' oldest recording still counts the compressed call.
        assert await oldest_recording_started_at(session) == call.started_at
    assert totals.jobs[CompressionStatus.DONE] == 1 and totals.wav_bytes == job.wav_bytes
    assert not list(recordings.glob(".*"))  # no partial file left

    # A recording stored compressed reads back into the recogniser (decoded), e.g. for a job
    # queued again by hand. Opus is lossy: the small test model may hear other syllables in
    # it, which is why the stored transcripts are always made from the WAV, before it goes.
    # What must hold is where and how long: each side's speech where it was, the same length.
    async with db.session() as session:
        await session.execute(delete(Transcript))
        transcription = await get_job(session, call_id=call_id)
        assert transcription is not None
        transcription.status = JobStatus.QUEUED
    assert (
        await run_transcription_worker(db, settings, pool=pool, clock=clock, until_idle=True) == 1
    )
    async with db.session() as session:
        again = {t.leg.value: t for t in await get_transcripts(session, call_id=call_id)}
    for leg, heard in before.items():
        assert again[leg].file == str(recordings / f"{STEM}-{leg}.ogg")
        assert again[leg].words
        assert again[leg].duration == pytest.approx(heard.duration, abs=0.02)
    assert all(w["end"] < 1.9 for w in again["agent"].words)
    assert all(w["start"] > 1.6 for w in again["customer"].words)


async def test_compression_can_be_turned_off(
    database_url: str, recordings: Path, pool: TranscriptionPool, clock: FixedClock
) -> None:
    settings = load_settings(
        database_url=database_url,
        vosk_model_path=audio.KOREAN_MODEL,
        recordings_dir=recordings,
        recordings_compress=False,
    )
    database = Database(database_url)
    try:
        call_id = await add_call(database)
        await on_call_ended(database, call_id)
        await run_transcription_worker(database, settings, pool=pool, clock=clock, until_idle=True)
        async with database.session() as session:
            assert await get_compression(session, call_id=call_id) is None
        assert (recordings / f"{STEM}-agent.wav").is_file()
        assert not list(recordings.glob("*.ogg"))
    finally:
        await database.dispose()


# --- crash safety ---------------------------------------------------------------------------


async def queued_call(db: Database) -> int:
    call_id = await add_call(db)
    async with db.session() as session:
        await enqueue_compression(session, call_id=call_id)
    return call_id


def _wavs_intact(recordings: Path, spoken: Path) -> None:
    for leg in ("agent", "customer"):
        name = f"{STEM}-{leg}.wav"
        assert (recordings / name).read_bytes() == (spoken / name).read_bytes()


async def test_a_crash_while_encoding_leaves_the_wav_and_the_retry_finishes(
    db: Database,
    settings: Settings,
    clock: FixedClock,
    recordings: Path,
    spoken: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await queued_call(db)
    real_encode = compression_module.encode

    def dies_midway(wav: Path, ogg: Path) -> Any:
        ogg.with_name(f".{ogg.name}.part").write_bytes(b"OggS half a file")
        raise Crash

    monkeypatch.setattr(compression_module, "encode", dies_midway)
    with pytest.raises(Crash):
        await compressor(db, settings, clock, worker="dead").run_one()
    _wavs_intact(recordings, spoken)
    call = await call_of(db, call_id)
    assert (call.recording_agent or "").endswith(".wav")
    assert (call.recording_customer or "").endswith(".wav")
    assert (await job_of(db, call_id)).status is CompressionStatus.RUNNING

    monkeypatch.setattr(compression_module, "encode", real_encode)
    worker = compressor(db, settings, clock)
    assert not await worker.run_one()  # the dead worker's lease still holds
    clock.advance(seconds=61)
    assert await worker.run_one()
    job = await job_of(db, call_id)
    assert (job.status, job.attempts) == (CompressionStatus.DONE, 2)
    assert sorted(p.name for p in recordings.iterdir()) == [
        f"{STEM}-agent.ogg",
        f"{STEM}-customer.ogg",
    ]  # the partial file was overwritten and renamed, the WAVs removed


async def test_a_crash_after_the_switch_leaves_a_wav_the_retry_removes(
    db: Database,
    settings: Settings,
    clock: FixedClock,
    recordings: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await queued_call(db)

    def dies_before_removing(self: RecordingFiles, stored: str, **kw: Any) -> bool:
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(RecordingFiles, "remove", dies_before_removing)
        with pytest.raises(Crash):
            await compressor(db, settings, clock, worker="dead").run_one()
    call = await call_of(db, call_id)
    assert (call.recording_agent or "").endswith(".ogg")  # switched: the Ogg is what plays now
    assert (recordings / f"{STEM}-agent.wav").is_file()  # but the WAV is still here
    assert (recordings / f"{STEM}-customer.wav").is_file()  # its leg not reached yet

    clock.advance(seconds=61)
    assert await compressor(db, settings, clock).run_one()
    assert sorted(p.name for p in recordings.iterdir()) == [
        f"{STEM}-agent.ogg",
        f"{STEM}-customer.ogg",
    ]
    job = await job_of(db, call_id)
    assert job.status is CompressionStatus.DONE and set(job.files) == {
        "recording_agent",
        "recording_customer",
    }
    # Done is done: running again changes nothing.
    assert not await compressor(db, settings, clock).run_one()
    assert (await job_of(db, call_id)).attempts == 2


async def test_a_bad_ogg_keeps_the_wav_is_retried_then_failed(
    db: Database,
    settings: Settings,
    clock: FixedClock,
    recordings: Path,
    spoken: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await queued_call(db)

    def corrupt(ogg: Path, **kw: Any) -> int:
        raise OpusError(f"{ogg} decodes to 3 samples, the WAV holds 28000")

    monkeypatch.setattr("telephony.recordings.opus.verify", corrupt)
    worker = compressor(db, settings, clock, max_attempts=2)
    assert await worker.run_one()
    job = await job_of(db, call_id)
    assert job.status is CompressionStatus.QUEUED and "decodes to 3 samples" in (
        job.last_error or ""
    )
    _wavs_intact(recordings, spoken)
    assert not await worker.run_one()  # the retry waits for its delay
    clock.advance(seconds=11)
    assert await worker.run_one()
    job = await job_of(db, call_id)
    assert (job.status, job.attempts) == (CompressionStatus.FAILED, 2)
    _wavs_intact(recordings, spoken)
    call = await call_of(db, call_id)
    assert (call.recording_agent or "").endswith(".wav")  # still played as before


async def test_a_recording_erased_meanwhile_is_not_brought_back(
    db: Database,
    settings: Settings,
    clock: FixedClock,
    recordings: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    call_id = await queued_call(db)
    real_encode = compression_module.encode

    def erased_while_encoding(wav: Path, ogg: Path) -> Any:
        encoded = real_encode(wav, ogg)

        async def erase() -> None:
            async with db.session() as session:
                call = await session.get(Call, call_id)
                assert call is not None
                call.recording_agent = call.recording_customer = None

        asyncio.run_coroutine_threadsafe(erase(), loop).result(timeout=10)
        return encoded

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(compression_module, "encode", erased_while_encoding)
    assert await compressor(db, settings, clock).run_one()
    call = await call_of(db, call_id)
    assert call.recording_agent is None and call.recording_customer is None
    assert not list(recordings.glob("*.ogg"))  # the copy does not outlive the erasure
    assert (await job_of(db, call_id)).status is CompressionStatus.DONE


# --- serving --------------------------------------------------------------------------------


async def test_the_player_gets_ogg_with_ranges_and_a_mix_of_compressed_legs(
    db: Database, settings: Settings, clock: FixedClock, recordings: Path
) -> None:
    call_id = await queued_call(db)
    length = frames(recordings / f"{STEM}-agent.wav")
    assert await compressor(db, settings, clock).run_one()
    ogg = (recordings / f"{STEM}-agent.ogg").read_bytes()

    async with running_app(settings, db) as api:
        client = api["qa"]
        whole = await client.get(f"/api/calls/{call_id}/recording", params={"leg": "agent"})
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "audio/ogg"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.content == ogg
        part = await client.get(
            f"/api/calls/{call_id}/recording",
            params={"leg": "agent"},
            headers={"Range": "bytes=1000-1999"},
        )
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(ogg)}"
        assert part.content == ogg[1000:2000]

        mixed = await client.get(f"/api/calls/{call_id}/recording")
        assert mixed.status_code == 200 and mixed.headers["content-type"] == "audio/wav"
        target = recordings / "mixed.check.wav"
        target.write_bytes(mixed.content)
        assert frames(target) == length  # both legs, decoded and added, as long as a leg
