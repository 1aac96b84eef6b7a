"""Transcription: `callcentre transcribe` against Vosk driven directly, and its scaling.

Audio: Korean speech by espeak-ng (the test model is Korean), shaped by sox into call-length
files with pauses. Real path: the `callcentre transcribe --json --workers N` command (its
process pool, one model per worker process). Baseline: `bench.vosk_direct`, Vosk's own
example loop, in one process on the same files. Every figure is wall time of a whole
command (interpreter start and model loading included, for both); the real-time factor is
that time over the seconds of audio.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, finish, python, ratio, say, scratch_dir
from tests.data import speech_audio as audio

GOAL_OVERHEAD = 0.05
GOAL_SCALING = 1.8
PHRASES = ("안녕하세요 고객님", "네 고맙습니다", "무엇을 도와드릴까요", "공사 일정이 어떻게 되나요",
           "내일 다시 전화 드리겠습니다", "감사합니다 좋은 하루 되세요")


def make_calls(directory: Path, files: int, phrases_per_file: int) -> list[Path]:
    """`files` WAVs (8 kHz mono), each `phrases_per_file` phrases with a second of pause."""
    spoken = [audio.speak(text, directory / f"phrase{i}.wav") for i, text in enumerate(PHRASES)]
    pause = audio.silence(directory / "pause.wav", 1.0)
    out = []
    for n in range(files):
        parts: list[str] = []
        for k in range(phrases_per_file):
            parts += [str(spoken[(n + k) % len(spoken)]), str(pause)]
        path = directory / f"call{n:02d}.wav"
        subprocess.run(["sox", *parts, str(path)], check=True, capture_output=True, timeout=60)
        out.append(path)
    return out


def _timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT,
                            timeout=900)
    return time.perf_counter() - start, result.stdout


def run(quick: bool = False) -> dict[str, Any]:
    files, phrases = (2, 1) if quick else (4, 4)
    model = audio.KOREAN_MODEL
    with scratch_dir("speech") as directory:
        calls = make_calls(directory, files, phrases)
        seconds = sum(audio.duration(p) for p in calls)
        say(f"Transcription: {files} files, {seconds:.0f} s of audio, model {model.parent.name}")
        names = [str(p) for p in calls]
        cli = [str(Path(python()).with_name("callcentre")), "transcribe", "--model",
               str(model), "--json"]
        direct_wall, direct_out = _timed([python(), "-m", "bench.vosk_direct", str(model),
                                          *names])
        one_wall, one_out = _timed([*cli, "--workers", "1", *names])
        two_wall, two_out = _timed([*cli, "--workers", "2", *names])
    direct = json.loads(direct_out)
    words = [sum(len(json.loads(line)["words"]) for line in out.splitlines())
             for out in (one_out, two_out)]
    overhead = one_wall / direct_wall - 1
    scaling = one_wall / two_wall
    say(f"  Vosk directly:            {direct_wall:6.2f} s, RTF {direct_wall / seconds:.3f} "
        f"(decoding alone {direct['decode_seconds']:.2f} s), {direct['words']} words")
    say(f"  callcentre transcribe ×1: {one_wall:6.2f} s, RTF {one_wall / seconds:.3f}, "
        f"{words[0]} words; overhead {overhead:+.1%} (goal ≤ {GOAL_OVERHEAD:.0%}: "
        f"{'met' if overhead <= GOAL_OVERHEAD else 'NOT met'})")
    say(f"  callcentre transcribe ×2: {two_wall:6.2f} s, RTF {two_wall / seconds:.3f}, "
        f"{words[1]} words; scaling {scaling:.2f}× (goal ≥ {GOAL_SCALING}×: "
        f"{'met' if scaling >= GOAL_SCALING else 'NOT met'})")
    return finish("transcription", {
        "files": files, "audio_seconds": round(seconds, 2),
        "vosk_seconds": round(direct_wall, 3), "vosk_decode_seconds":
        round(direct["decode_seconds"], 3), "vosk_rtf": round(direct_wall / seconds, 4),
        "cli_1_worker_seconds": round(one_wall, 3),
        "cli_1_worker_rtf": round(one_wall / seconds, 4),
        "cli_2_workers_seconds": round(two_wall, 3),
        "cli_2_workers_rtf": round(two_wall / seconds, 4),
        "words": {"vosk": direct["words"], "cli_1": words[0], "cli_2": words[1]},
        "ratio": ratio(one_wall, direct_wall), "overhead": round(overhead, 4),
        "scaling": round(scaling, 3), "goal_overhead": GOAL_OVERHEAD,
        "goal_scaling": GOAL_SCALING,
        "goal_met": overhead <= GOAL_OVERHEAD and scaling >= GOAL_SCALING})
