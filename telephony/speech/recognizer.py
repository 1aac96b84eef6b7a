"""One Vosk model per process and a fresh recogniser per file: a WAV in, timed words out."""

from __future__ import annotations

import contextlib
import ctypes
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from telephony.speech.audio import inspect_wav, read_chunks
from telephony.speech.errors import ModelUnavailable
from telephony.speech.model_dir import DOWNLOAD_HINT, model_name, model_problems


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float  # seconds from the start of the file
    end: float
    conf: float

    def as_json(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True, slots=True)
class Transcript:
    file: str
    duration: float
    rate: int
    model: str
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(word.word for word in self.words)

    def utterances(self, pause: float = 1.0) -> list[tuple[float, float, str]]:
        """(start, end, text) of stretches of words separated by pauses, for reading."""
        lines: list[tuple[float, float, list[str]]] = []
        for word in self.words:
            if lines and word.start - lines[-1][1] <= pause:
                lines[-1] = (lines[-1][0], word.end, [*lines[-1][2], word.word])
            else:
                lines.append((word.start, word.end, [word.word]))
        return [(start, end, " ".join(words)) for start, end, words in lines]

    def as_json(self) -> dict[str, Any]:
        """The `callcentre transcribe --json` line."""
        return {
            "file": self.file,
            "duration": self.duration,
            "words": [word.as_json() for word in self.words],
        }

    def to_message(self) -> dict[str, Any]:
        """Plain data for the pipe between a worker process and the pool."""
        return {**self.as_json(), "rate": self.rate, "model": self.model}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Transcript:
        words = tuple(Word(w["word"], w["start"], w["end"], w["conf"]) for w in data["words"])
        return cls(data["file"], data["duration"], data["rate"], data["model"], words)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    vosk: Any  # vosk.Model


def load_model(path: Path) -> LoadedModel:
    """Load the model (seconds, hundreds of MB): once per process, then reuse it."""
    problems = model_problems(path)
    if problems:
        raise ModelUnavailable(f"{problems[0]}; {DOWNLOAD_HINT}")
    import vosk

    vosk.SetLogLevel(-1)  # Kaldi logs every load and decode on stderr otherwise
    try:
        return LoadedModel(model_name(path), vosk.Model(str(path)))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelUnavailable(f"{path}: Vosk could not load the model ({exc})") from None


def transcribe_file(model: LoadedModel, path: Path) -> Transcript:
    """All words of one file with their times; raises AudioFormatError for unusable files."""
    import vosk

    info = inspect_wav(path)
    _reset_dither()
    recognizer = vosk.KaldiRecognizer(model.vosk, info.rate)  # Vosk resamples to the model's
    recognizer.SetWords(True)
    results = []
    for chunk in read_chunks(info):
        if recognizer.AcceptWaveform(chunk):
            results.append(recognizer.Result())
    results.append(recognizer.FinalResult())
    words = tuple(
        Word(
            str(w["word"]),
            round(float(w["start"]), 3),
            round(float(w["end"]), 3),
            round(float(w.get("conf", 1.0)), 3),
        )
        for result in results
        for w in json.loads(result).get("result", [])
    )
    return Transcript(str(path), round(info.duration, 3), info.rate, model.name, words)


@lru_cache(maxsize=1)
def _c_library() -> Any:
    return ctypes.CDLL(None)


def _reset_dither() -> None:
    """Kaldi dithers its features with the C library's rand(), which every recogniser in the
    process shares: without a reseed, a file's words would depend on what the process decoded
    before it. Reseeding makes a transcript a function of the file (and the model) alone."""
    # No C library to reach (not Linux/macOS): transcripts are then only nearly repeatable.
    with contextlib.suppress(OSError, AttributeError, TypeError):
        _c_library().srand(0)
