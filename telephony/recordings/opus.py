"""Recordings as Opus in Ogg: encoding a transcribed call's WAV, checking the result, and
decoding it again (for mixing the legs; the recogniser decodes it with
`telephony.speech.audio.ogg_audio`).

Why Opus in Ogg, through PyPI's `soundfile`:
- Opus is the codec made for speech at low bit rates; at 11 kbit/s narrowband telephone
  speech stays clear, and a 128 kbit/s 8 kHz 16-bit WAV becomes 10-12x smaller (measured by
  `python -m bench recording_storage`). Chromium, Firefox and Safari play Ogg Opus in an
  <audio> element and seek it over HTTP Range requests.
- `soundfile`'s wheels bundle libsndfile (>= 1.1 writes OGG/OPUS; 1.2 in the wheels) with
  libopus and libogg: one maintained library in the process, no subprocess per file, no
  system package to install, and the same library decodes the file to verify it. Debian's
  ffmpeg or opus-tools would do the same through a subprocess, but add a system dependency
  every machine (and the container image) must carry, and a command line to parse errors
  from.
- libsndfile names the bit rate through a "compression level" from 0 (its 256 kbit/s per
  channel) to 1 (6 kbit/s); `OPUS_LEVEL` is the level for `OPUS_KBPS`. libsndfile also writes
  Opus' pre-skip and end trimming, so the decoded file has exactly the WAV's samples: the
  transcripts' word times stay true for the compressed file.

Every Ogg is written under a temporary name, synced, renamed into place and its directory
synced, then decoded in full and compared with the WAV before the WAV may be removed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

OPUS_KBPS = 11  # narrowband speech: clear words, ~11x smaller than 8 kHz 16-bit PCM
_LIBSNDFILE_MAX_BPS, _LIBSNDFILE_MIN_BPS = 256_000, 6_000  # its level 0 and level 1, per channel
OPUS_LEVEL = (_LIBSNDFILE_MAX_BPS - OPUS_KBPS * 1000) / (_LIBSNDFILE_MAX_BPS - _LIBSNDFILE_MIN_BPS)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # what Opus encodes natively
FRAME_SECONDS = 0.02  # one Opus frame: the most a decoded length may differ by
_BLOCK_FRAMES = 64_000  # eight seconds at 8 kHz per read: a long call is never held whole


class OpusError(Exception):
    """A recording cannot be compressed, or its Ogg is not a faithful copy; says which."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """A WAV and the Ogg made of it."""

    wav_bytes: int
    ogg_bytes: int
    rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


def ogg_path_of(wav: Path) -> Path:
    """Where a WAV's Ogg is written: beside it, same name, `.ogg`."""
    return wav.with_suffix(".ogg")


def encode(wav: Path, ogg: Path) -> Encoded:
    """Write `ogg` from `wav` (replacing an earlier try), durably, and verify it decodes to
    as many samples as the WAV holds; OpusError says what is wrong. The WAV is not touched."""
    try:
        info = soundfile.info(str(wav))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise OpusError(f"{wav} cannot be read as audio: {exc}") from None
    if info.samplerate not in OPUS_RATES:
        raise OpusError(
            f"{wav}: {info.samplerate} Hz is not a rate Opus encodes ({OPUS_RATES}); kept as WAV"
        )
    # A fixed name per target: a retry after a crash overwrites what the crash left.
    partial = ogg.with_name(f".{ogg.name}.part")
    try:
        with (
            soundfile.SoundFile(str(wav)) as source,
            soundfile.SoundFile(
                str(partial),
                "w",
                samplerate=info.samplerate,
                channels=info.channels,
                format="OGG",
                subtype="OPUS",
                compression_level=OPUS_LEVEL,
            ) as target,
        ):
            for block in source.blocks(blocksize=_BLOCK_FRAMES, dtype="int16", always_2d=True):
                target.write(block)
        _sync(partial)
        partial.replace(ogg)
        _sync_directory(ogg.parent)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise OpusError(f"{wav} could not be compressed to {ogg}: {exc}") from None
    frames = verify(ogg, rate=info.samplerate, channels=info.channels, frames=info.frames)
    return Encoded(wav.stat().st_size, ogg.stat().st_size, info.samplerate, info.channels, frames)


def verify(ogg: Path, *, rate: int, channels: int, frames: int) -> int:
    """Decode the whole Ogg; its sample count, which must match the WAV's within one frame."""
    decoded = 0
    try:
        with soundfile.SoundFile(str(ogg)) as audio:
            if (audio.samplerate, audio.channels) != (rate, channels):
                raise OpusError(
                    f"{ogg} decodes as {audio.samplerate} Hz x {audio.channels}, "
                    f"not {rate} Hz x {channels}"
                )
            for block in audio.blocks(blocksize=_BLOCK_FRAMES, dtype="int16", always_2d=True):
                decoded += len(block)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise OpusError(f"{ogg} does not decode: {exc}") from None
    if abs(decoded - frames) > FRAME_SECONDS * rate:
        raise OpusError(f"{ogg} decodes to {decoded} samples, the WAV holds {frames}")
    return decoded


def read_samples(audio: Path) -> tuple[np.ndarray, int]:
    """The whole recording as int16 samples (frames x channels) and its rate."""
    samples, rate = soundfile.read(str(audio), dtype="int16", always_2d=True)
    return samples, int(rate)


def _sync(path: Path) -> None:
    with path.open("rb+") as file:
        os.fsync(file.fileno())


def _sync_directory(directory: Path) -> None:
    """The rename itself survives a power cut only once the directory is synced."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
