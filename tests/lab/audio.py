"""Measuring the lab's WAV files with the standard library: levels, where speech is, length."""

from __future__ import annotations

import math
import wave
from array import array
from dataclasses import dataclass
from pathlib import Path

SILENCE_DBFS = -50.0  # G.711 silence after the PBX is about -72 dBFS; speech is above -30


@dataclass(frozen=True, slots=True)
class Measure:
    """One WAV file: its length, overall level and the spans where something is heard."""

    path: Path
    seconds: float
    rms_dbfs: float
    spans: tuple[tuple[float, float], ...]  # (start, end) seconds above SILENCE_DBFS

    @property
    def heard_seconds(self) -> float:
        return sum(end - start for start, end in self.spans)

    def first_sound(self, *, lasting: float = 0.2) -> float | None:
        """Start of the first sound lasting at least `lasting` seconds (a word, not a click or
        the last frames of hold music a leg may start with)."""
        return next((start for start, end in self.spans if end - start >= lasting), None)

    def level_between(self, start: float, end: float) -> float:
        return rms_dbfs(samples(self.path), rate(self.path), start, end)


def samples(path: Path) -> array[int]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        data = array("h")
        data.frombytes(wav.readframes(wav.getnframes()))
    return data


def rate(path: Path) -> int:
    with wave.open(str(path), "rb") as wav:
        return wav.getframerate()


def rms_dbfs(
    data: array[int], sample_rate: int, start: float = 0.0, end: float | None = None
) -> float:
    first = int(start * sample_rate)
    last = len(data) if end is None else min(len(data), int(end * sample_rate))
    window = data[first:last]
    if not window:
        return -math.inf
    power = sum(s * s for s in window) / len(window)
    return 10 * math.log10(power / 32768**2) if power else -math.inf


def measure(path: Path, *, window: float = 0.1) -> Measure:
    data, sample_rate = samples(path), rate(path)
    step = max(1, int(window * sample_rate))
    spans: list[tuple[float, float]] = []
    for first in range(0, len(data), step):
        start = first / sample_rate
        if rms_dbfs(data, sample_rate, start, start + window) > SILENCE_DBFS:
            end = min(len(data), first + step) / sample_rate
            if spans and abs(spans[-1][1] - start) < 1e-9:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
    return Measure(path, len(data) / sample_rate, rms_dbfs(data, sample_rate), tuple(spans))
