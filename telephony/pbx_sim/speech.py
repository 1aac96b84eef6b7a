"""Short Mandarin utterances as 8 kHz 16-bit mono samples for the simulated recordings.

espeak-ng (`-v cmn`) speaks when it is installed, resampled by sox or by `resample` below;
without espeak-ng, noise bursts shaped like syllables stand in for speech. Blocking: call it
from a worker thread.
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import wave
from array import array
from pathlib import Path

RATE = 8000
AGENT_VOICE = "cmn+f3"
CUSTOMER_VOICE = "cmn+m3"
WORDS_PER_MINUTE = "260"  # espeak-ng's default 175 is slow for Mandarin

_cache: dict[tuple[str, str], array] = {}
_cache_lock = threading.Lock()
_line_locks: dict[tuple[str, str], threading.Lock] = {}


def utterance(text: str, voice: str) -> array:
    """Samples of `text` spoken by `voice` (cached: the same lines come back in every call).
    Each line is synthesised once: threads asking for it meanwhile wait for that one."""
    key = (voice, text)
    with _cache_lock:
        cached = _cache.get(key)
        line_lock = _line_locks.setdefault(key, threading.Lock())
    if cached is not None:
        return cached
    with line_lock:
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None:
            return cached
        samples = _espeak(text, voice) if shutil.which("espeak-ng") else None
        if samples is None:
            samples = noise_burst(len(text) * 0.2, random.Random(f"{voice}:{text}"))
        with _cache_lock:
            _cache[key] = samples
        return samples


def _espeak(text: str, voice: str) -> array | None:
    try:
        with tempfile.TemporaryDirectory(prefix="pbx-sim-tts-") as workdir:
            spoken = Path(workdir) / "spoken.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", WORDS_PER_MINUTE, "-w", str(spoken), text],
                check=True,
                capture_output=True,
                timeout=30,
            )
            if shutil.which("sox"):
                narrow = Path(workdir) / "narrow.wav"
                subprocess.run(
                    ["sox", str(spoken), "-r", str(RATE), "-c", "1", "-b", "16", str(narrow)],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
                samples, rate = read_wav(narrow)
            else:
                samples, rate = read_wav(spoken)
            return trim(resample(samples, rate))
    except (OSError, subprocess.SubprocessError, wave.Error, EOFError):
        return None


def read_wav(path: Path) -> tuple[array, int]:
    """Mono 16-bit samples and the sample rate of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise wave.Error("only 16-bit WAV is supported")
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    if channels > 1:
        samples = array("h", samples[::channels])
    return samples, rate


def resample(samples: array, rate: int, target: int = RATE) -> array:
    """Box-filter then linearly interpolate to `target` Hz (good enough for speech)."""
    if rate == target or not samples:
        return array("h", samples)
    step = rate / target
    width = max(1, round(step))
    smoothed = samples
    if width > 1:
        running = 0
        smoothed = array("h", bytes(2 * len(samples)))
        for index, value in enumerate(samples):
            running += value
            if index >= width:
                running -= samples[index - width]
            smoothed[index] = int(running / min(index + 1, width))
    count = int(len(samples) / step)
    out = array("h", bytes(2 * count))
    last = len(smoothed) - 1
    for index in range(count):
        position = index * step
        base = int(position)
        frac = position - base
        following = smoothed[min(base + 1, last)]
        out[index] = int(smoothed[base] * (1 - frac) + following * frac)
    return out


def trim(samples: array, threshold: int = 64) -> array:
    """Drop the silence espeak-ng leaves before and after the words."""
    start = next((i for i, value in enumerate(samples) if abs(value) > threshold), len(samples))
    end = len(samples)
    while end > start and abs(samples[end - 1]) <= threshold:
        end -= 1
    return array("h", samples[start:end])


def noise_burst(seconds: float, rng: random.Random, level: int = 1200) -> array:
    """Low-level noise in 0.2 s syllables: a stand-in for speech when no synthesiser exists."""
    total = max(1, int(seconds * RATE))
    syllable = int(0.2 * RATE)
    out = array("h", bytes(2 * total))
    for index in range(total):
        phase = (index % syllable) / syllable
        envelope = math.sin(math.pi * min(phase / 0.85, 1.0)) if phase < 0.85 else 0.0
        out[index] = int(rng.uniform(-level, level) * envelope)
    return out


def write_wav(path: Path, samples: array) -> None:
    """8 kHz mono 16-bit PCM, written to a temporary name then moved into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = array("h", samples)
    if sys.byteorder == "big":
        data.byteswap()
    partial = path.with_name(path.name + ".part")
    with wave.open(str(partial), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(data.tobytes())
    partial.replace(path)
