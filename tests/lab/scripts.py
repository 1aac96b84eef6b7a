"""What the lab's phones say: WAVs of Korean speech (the test speech model is Korean) at a
known moment, padded with silence to the call's length (a phone hangs up when its WAV ends)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.data.speech_audio import duration, leg, silence, speak

GREETING = "안녕하세요"
THANKS = "네 고맙습니다"


@dataclass(frozen=True, slots=True)
class Script:
    path: Path
    total: float  # seconds: the phone hangs up after this long on the call


@dataclass(frozen=True, slots=True)
class Spoken(Script):
    """A script that says something, once, at a known moment."""

    text: str
    speech_at: float  # seconds into the call
    speech_seconds: float


def spoken(directory: Path, name: str, text: str, *, at: float, total: float) -> Spoken:
    directory.mkdir(parents=True, exist_ok=True)
    speech = directory / f"{name}.speech.wav"
    if not speech.exists():
        speak(text, speech)
    path = directory / f"{name}.wav"
    leg(speech, path, start=at, total=total)
    return Spoken(path, total, text, at, duration(speech))


def quiet(directory: Path, name: str, *, total: float) -> Script:
    directory.mkdir(parents=True, exist_ok=True)
    return Script(silence(directory / f"{name}.wav", total), total)
