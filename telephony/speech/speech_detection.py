"""Where a recording has speech, so that the recogniser decodes only that.

Each leg of a two-leg call recording is silent while the other party speaks, and Vosk spends
as much CPU on silence as on speech. WebRTC's voice-activity detector (`webrtcvad-wheels`:
a few microseconds of C per frame) judges every 30 ms frame; each run of speech frames is
widened by some padding (so a word's soft start and end, which the detector may call silence,
are still decoded) and runs separated by less than a short pause are merged (a word split
between two decodes would be lost or doubled). Regions are in frames of the WAV (samples per
channel) and start on the 30 ms grid, which is also Vosk's output frame (3 × 10 ms), so word
times from a region land on the same grid as a whole-file decode's.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from telephony.speech.audio import WavInfo, read_chunks

FRAME_SECONDS = 0.03  # WebRTC takes 10, 20 or 30 ms frames; 30 ms is Vosk's output frame too
SILENCE_PEAK = 64  # of 32768 (−54 dBFS): a frame never louder than this is not speech


@dataclass(frozen=True, slots=True)
class SpeechDetection:
    """How speech is found: the settings' `transcription_vad_*`."""

    aggressiveness: int = 1  # WebRTC's mode, 0 (calls most things speech) to 3 (strictest)
    # Seconds decoded before and after each run of speech: 1 s agreed with whole-file words
    # better than 0.3 or 0.5 at the same CPU (bench/README.md: the padding curve).
    padding: float = 1.0
    merge_gap: float = 1.0  # regions (padding included) this close are decoded as one

    def __post_init__(self) -> None:
        if self.aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness {self.aggressiveness} is not 0, 1, 2 or 3")
        if self.padding < 0 or self.merge_gap < 0:
            raise ValueError("padding and merge_gap must not be negative")


@dataclass(frozen=True, slots=True)
class Region:
    """Frames [start, end) of a recording that hold speech (and its padding)."""

    start: int
    end: int

    @property
    def frames(self) -> int:
        return self.end - self.start


def find_speech(info: WavInfo, detection: SpeechDetection) -> list[Region]:
    """The regions of the file worth decoding, in order, none overlapping; none if all silence."""
    frame = round(info.rate * FRAME_SECONDS)
    # Padding in whole frames keeps every region's start on the 30 ms grid.
    padding = round(detection.padding / FRAME_SECONDS) * frame
    return merge_regions(
        speech_frames(info, detection.aggressiveness),
        frame=frame,
        total=info.frames,
        padding=padding,
        merge_gap=round(detection.merge_gap * info.rate),
    )


def speech_frames(info: WavInfo, aggressiveness: int) -> Iterator[bool]:
    """Whether each whole 30 ms frame of the file is speech, in order (read in chunks: a long
    recording is never held in memory). A last partial frame is not judged."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    size = round(info.rate * FRAME_SECONDS) * 2  # bytes: mono 16-bit
    pending = b""
    for chunk in read_chunks(info):
        pending += chunk
        whole = len(pending) - len(pending) % size
        for offset in range(0, whole, size):
            frame = pending[offset : offset + size]
            yield _audible(frame) and vad.is_speech(frame, info.rate)
        pending = pending[whole:]


def _audible(frame: bytes) -> bool:
    """Whether a frame's loudest sample reaches the silence floor. WebRTC's detector calls
    the first frames of a file speech while it learns the noise, even digital silence and
    dither: that would cost a recogniser (its first second is the dearest) on a silent leg."""
    samples = array("h", frame)
    if sys.byteorder == "big":
        samples.byteswap()
    return max(samples) >= SILENCE_PEAK or min(samples) <= -SILENCE_PEAK


def merge_regions(
    flags: Iterable[bool], *, frame: int, total: int, padding: int, merge_gap: int
) -> list[Region]:
    """Runs of speech frames (`frame` samples each) widened by `padding` samples on each side,
    clipped to [0, total), merged when `merge_gap` samples or fewer apart. A region that ends
    within a frame of the end takes the rest of the file (the last partial frame unjudged)."""
    found: list[Region] = []
    for index, speech in enumerate(flags):
        if not speech:
            continue
        start = max(0, index * frame - padding)
        end = min(total, (index + 1) * frame + padding)
        if total - end < frame:
            end = total
        if found and start - found[-1].end <= merge_gap:
            found[-1] = Region(found[-1].start, max(found[-1].end, end))
        else:
            found.append(Region(start, end))
    return found
