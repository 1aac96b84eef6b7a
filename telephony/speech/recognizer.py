"""One Vosk model per process and a recogniser per file, fed only its speech: a WAV in, timed
words out (speech found by telephony.speech.speech_detection)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import tempfile
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from telephony.speech.audio import WavInfo, decode_ogg, inspect_wav, is_ogg, read_chunks
from telephony.speech.errors import ModelUnavailable
from telephony.speech.model_dir import DOWNLOAD_HINT, model_name, model_problems
from telephony.speech.speech_detection import Region, SpeechDetection, find_speech

SPEECH_ONLY = SpeechDetection()  # the default: decode only where there is speech


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


def transcribe_file(
    model: LoadedModel, path: Path, detection: SpeechDetection | None = SPEECH_ONLY
) -> Transcript:
    """All words of one file with their times on the file's own clock; raises
    AudioFormatError for unusable files.

    With `detection` (the default) only the regions where a voice-activity detector finds
    speech are decoded; a silent leg costs the detector's pass and no decoding at all. None
    decodes the whole file in one go.
    """
    if is_ogg(path):  # a call stored compressed, read again: decoded to a scratch WAV
        with tempfile.TemporaryDirectory(prefix="callcentre-ogg-") as scratch:
            wav = decode_ogg(path, Path(scratch) / "decoded.wav")
            return replace(transcribe_file(model, wav, detection), file=str(path))
    info = inspect_wav(path)
    regions = [Region(0, info.frames)] if detection is None else find_speech(info, detection)
    words: list[Word] = []
    if regions:
        words = _decode(model, info, regions)
    return Transcript(str(path), round(info.duration, 3), info.rate, model.name, tuple(words))


def _decode(model: LoadedModel, info: WavInfo, regions: list[Region]) -> list[Word]:
    """The words of each region, timed from the start of the file.

    One recogniser decodes every region of the file: a new one spends its first second of
    audio building the decoding graph's caches (≈ 0.8 s of CPU with the test model), more
    than a short region's decoding. `FinalResult` ends each region: Vosk then starts the
    next one with fresh features, adaptation and decoder, as a recogniser of its own would
    (words do not depend on what came before, nor on where a region was cut), but it keeps
    counting time over all the audio it was fed, so a word's time in the file is its time
    minus the audio fed before its region, plus the region's start.
    """
    import vosk

    recognizer = vosk.KaldiRecognizer(model.vosk, info.rate)  # Vosk resamples to the model's
    recognizer.SetWords(True)
    words: list[Word] = []
    fed = 0  # frames fed to the recogniser before this region
    for region in regions:
        _reset_dither()  # each region's dither as if it were a file of its own
        results = []
        for chunk in read_chunks(info, start=region.start, end=region.end):
            if recognizer.AcceptWaveform(chunk):
                results.append(recognizer.Result())
        results.append(recognizer.FinalResult())
        shift = (region.start - fed) / info.rate
        fed += region.frames
        words.extend(
            Word(
                str(w["word"]),
                round(float(w["start"]) + shift, 3),
                round(float(w["end"]) + shift, 3),
                round(float(w.get("conf", 1.0)), 3),
            )
            for result in results
            for w in json.loads(result).get("result", [])
        )
    return words


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
