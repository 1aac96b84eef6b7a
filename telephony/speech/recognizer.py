"""One Vosk model per process and warm recognisers reused across files, fed only speech: a WAV
in, timed words out (speech found by telephony.speech.speech_detection)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
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


# A warm recogniser is replaced after this much audio: Vosk times a word from the samples fed
# since it was made, divided by the rate in single precision (`samples_round_start_ /
# sample_frequency_`), which after an hour is still exact to a quarter of a millisecond but
# after a hundred hours to 30 ms. A new one costs ≈ 0.8 s of CPU once an hour of audio.
RENEW_AFTER_SECONDS = 3600.0


class _Warm:
    """A Vosk recogniser and the frames it has been fed since it was made (its clock)."""

    __slots__ = ("fed", "vosk")

    def __init__(self, model: Any, rate: int) -> None:
        import vosk

        self.vosk = vosk.KaldiRecognizer(model, rate)  # Vosk resamples to the model's rate
        self.vosk.SetWords(True)
        self.fed = 0


class WarmRecognizers:
    """Idle recognisers of one model, by sample rate, lent to one decode at a time.

    A new recogniser spends its first second of audio building the decoding graph's caches
    (≈ 0.8 s of CPU with the test model): more than decoding a short turn, and once silence
    is skipped, the biggest cost of a file. `FinalResult` ends each decode and leaves the
    recogniser as good as new (Vosk drops its features, adaptation and decoder and makes
    fresh ones on the next audio) but keeps the graph's caches warm and its clock running.
    A recogniser is taken out while a file is decoded and put back after, so two threads
    never share one; one that failed mid-file is dropped, never put back.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: dict[int, list[_Warm]] = {}
        self.made = 0  # recognisers made: what reuse saves

    @contextlib.contextmanager
    def borrow(self, model: Any, rate: int) -> Iterator[_Warm]:
        with self._lock:
            idle = self._idle.get(rate)
            warm = idle.pop() if idle else None
            if warm is None:
                self.made += 1
        if warm is None:
            warm = _Warm(model, rate)
        yield warm  # an exception skips the return below: the recogniser is dropped
        if warm.fed < RENEW_AFTER_SECONDS * rate:
            with self._lock:
                self._idle.setdefault(rate, []).append(warm)


@dataclass(frozen=True)
class LoadedModel:
    name: str
    vosk: Any  # vosk.Model
    recognizers: WarmRecognizers = field(default_factory=WarmRecognizers, compare=False)


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
    model: LoadedModel,
    path: Path,
    detection: SpeechDetection | None = SPEECH_ONLY,
    *,
    reuse: bool = True,
) -> Transcript:
    """All words of one file with their times on the file's own clock; raises
    AudioFormatError for unusable files.

    With `detection` (the default) only the regions where a voice-activity detector finds
    speech are decoded; a silent leg costs the detector's pass and no decoding at all. None
    decodes the whole file in one go. `reuse` (the default) decodes with one of the model's
    warm recognisers; False makes a recogniser for this file alone, as Vosk's example does.
    """
    if is_ogg(path):  # a call stored compressed, read again: decoded to a scratch WAV
        with tempfile.TemporaryDirectory(prefix="callcentre-ogg-") as scratch:
            wav = decode_ogg(path, Path(scratch) / "decoded.wav")
            return replace(transcribe_file(model, wav, detection, reuse=reuse), file=str(path))
    info = inspect_wav(path)
    regions = [Region(0, info.frames)] if detection is None else find_speech(info, detection)
    words: list[Word] = []
    if regions:
        if reuse:
            with model.recognizers.borrow(model.vosk, info.rate) as warm:
                words = _decode(warm, info, regions)
        else:
            words = _decode(_Warm(model.vosk, info.rate), info, regions)
    return Transcript(str(path), round(info.duration, 3), info.rate, model.name, tuple(words))


def _decode(recognizer: _Warm, info: WavInfo, regions: list[Region]) -> list[Word]:
    """The words of each region, timed from the start of the file.

    `FinalResult` ends each region: Vosk then starts the next one (of this file or the next)
    with fresh features, adaptation and decoder, as a recogniser of its own would (words do
    not depend on what came before), but it keeps counting time over all the audio it was
    fed, so a word's time in the file is its time minus the audio fed before its region,
    plus the region's start. (`Reset` would not do: it ends the utterance but keeps the
    features and their adaptation, and the clock, for the next.) An endpoint on a region's
    last chunk is left to `FinalResult`: after `Result` it would return nothing and leave
    the features in place.
    """
    vosk = recognizer.vosk
    words: list[Word] = []
    for region in regions:
        _reset_dither()  # each region's dither as if it were a file of its own
        results = []
        chunks = read_chunks(info, start=region.start, end=region.end)
        chunk = next(chunks, None)
        while chunk is not None:
            following = next(chunks, None)
            if vosk.AcceptWaveform(chunk) and following is not None:
                results.append(vosk.Result())
            chunk = following
        results.append(vosk.FinalResult())
        shift = (region.start - recognizer.fed) / info.rate
        recognizer.fed += region.frames
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
