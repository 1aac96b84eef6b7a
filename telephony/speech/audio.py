"""Reading call recordings as the recogniser takes them: 16-bit PCM, mono, 8 or 16 kHz, from
a WAV or (a call stored compressed after transcription) an Ogg Opus file decoded first.

The RIFF header is read here rather than by `wave`, so that a rejected file says exactly what
it is (e.g. "44100 Hz, 2 channels, 32-bit float") and what is expected. Stereo is mixed down;
other rates and sample formats are refused rather than silently resampled.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from telephony.speech.errors import AudioFormatError

SUPPORTED_RATES = (8000, 16000)
CHUNK_FRAMES = 4000  # half a second at 8 kHz: Vosk's usual feeding size

_PCM, _FLOAT, _ALAW, _MULAW, _EXTENSIBLE = 1, 3, 6, 7, 0xFFFE
_FORMAT_NAMES = {_PCM: "PCM", _FLOAT: "float", _ALAW: "A-law", _MULAW: "µ-law"}
_CONVERT = "convert it with: sox IN.wav -r 8000 -c 1 -b 16 -e signed-integer OUT.wav"


@dataclass(frozen=True, slots=True)
class WavInfo:
    path: Path
    rate: int
    channels: int
    bits: int
    format_tag: int
    data_offset: int
    data_bytes: int

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        return self.data_bytes // self.frame_bytes if self.frame_bytes else 0

    @property
    def duration(self) -> float:
        return self.frames / self.rate if self.rate else 0.0

    def describe(self) -> str:
        kind = _FORMAT_NAMES.get(self.format_tag, f"format {self.format_tag:#x}")
        kind = "integer PCM" if kind == "PCM" else kind
        return f"{self.rate} Hz, {self.channels} channel(s), {self.bits}-bit {kind}"


def inspect_wav(path: Path) -> WavInfo:
    """The file's format, checked: raises AudioFormatError unless the recogniser can take it."""
    try:
        with path.open("rb") as stream:
            info = _read_header(path, stream)
    except FileNotFoundError:
        raise AudioFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise AudioFormatError(f"{path}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise AudioFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    problems = []
    if info.format_tag != _PCM or info.bits != 16:
        problems.append("not 16-bit integer PCM")
    if info.rate not in SUPPORTED_RATES:
        problems.append(f"sample rate {info.rate} Hz is neither 8000 nor 16000")
    if info.channels not in (1, 2):
        problems.append(f"{info.channels} channels (mono or stereo expected)")
    if problems:
        raise AudioFormatError(f"{path}: {info.describe()}: {'; '.join(problems)}; {_CONVERT}")
    return info


OGG_SUFFIXES = (".ogg", ".opus")


def is_ogg(path: Path) -> bool:
    return path.suffix.lower() in OGG_SUFFIXES


def decode_ogg(path: Path, target: Path) -> Path:
    """An Ogg recording (a call stored compressed after transcription) written out as the
    16-bit PCM WAV the recogniser reads, at its own rate; AudioFormatError if unreadable."""
    import soundfile  # only here: a WAV-only worker does not load it

    try:
        samples, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
        soundfile.write(str(target), samples, rate, subtype="PCM_16", format="WAV")
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFormatError(f"{path}: cannot be read as Ogg audio ({exc})") from None
    return target


def read_chunks(
    info: WavInfo, frames: int = CHUNK_FRAMES, *, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Mono little-endian 16-bit samples, `frames` at a time (stereo mixed down), from frame
    `start` up to (not including) frame `end` (the end of the file when None)."""
    first = min(max(0, start), info.frames)
    last = info.frames if end is None else min(max(first, end), info.frames)
    with info.path.open("rb") as stream:
        stream.seek(info.data_offset + first * info.frame_bytes)
        remaining = (last - first) * info.frame_bytes
        while remaining > 0:
            data = stream.read(min(remaining, frames * info.frame_bytes))
            data = data[: len(data) - len(data) % info.frame_bytes]
            if not data:
                return
            remaining -= len(data)
            yield data if info.channels == 1 else _mix_down(data, info.channels)


def _mix_down(data: bytes, channels: int) -> bytes:
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    mixed = array(
        "h", (sum(samples[i : i + channels]) // channels for i in range(0, len(samples), channels))
    )
    if sys.byteorder == "big":
        mixed.byteswap()
    return mixed.tobytes()


def _read_header(path: Path, stream: BinaryIO) -> WavInfo:
    head = stream.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        raise AudioFormatError(f"{path}: not a WAV file (no RIFF/WAVE header); {_CONVERT}")
    if head[:4] == b"RIFX":
        raise AudioFormatError(f"{path}: big-endian WAV (RIFX) is not supported; {_CONVERT}")
    size = path.stat().st_size
    fmt: tuple[int, int, int, int] | None = None
    while True:
        chunk = stream.read(8)
        if len(chunk) < 8:
            raise AudioFormatError(f"{path}: WAV file has no audio data (truncated?)")
        name, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if name == b"fmt ":
            fmt = _parse_fmt(path, stream.read(length))
            stream.seek(length % 2, 1)
        elif name == b"data":
            if fmt is None:
                raise AudioFormatError(f"{path}: WAV data comes before its format chunk")
            offset = stream.tell()
            # A recording still being written (or by a crashed writer) may claim more data
            # than the file holds, or 0xFFFFFFFF: trust the file's real size.
            available = max(0, size - offset)
            data_bytes = available if length in (0, 0xFFFFFFFF) else min(length, available)
            tag, channels, rate, bits = fmt
            return WavInfo(path, rate, channels, bits, tag, offset, data_bytes)
        else:
            stream.seek(length + length % 2, 1)


def _parse_fmt(path: Path, body: bytes) -> tuple[int, int, int, int]:
    if len(body) < 16:
        raise AudioFormatError(f"{path}: WAV format chunk is too short")
    tag, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the tag
    return tag, channels, rate, bits
