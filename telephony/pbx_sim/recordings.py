"""MixMonitor's files: the mix and the r()/t() legs, as 8 kHz mono WAV.

The conversation is a short scripted exchange placed over the recorded time: the agent
greets first, closes last, the two legs never speak at once, silence fills the rest. With
MixMonitor's `b` option only bridged time is recorded, so a call that never reached an agent
leaves header-only files. Synthesis starts with the first recorded span and the files are
written after the channel hangs up, in worker threads, so the event loop (and the events)
never wait for audio.
"""

from __future__ import annotations

import asyncio
import random
from array import array
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from telephony.contract import CallType
from telephony.pbx_sim.speech import AGENT_VOICE, CUSTOMER_VOICE, RATE, utterance, write_wav

_T = TypeVar("_T")


class Track(StrEnum):
    """A recording's track: each party's own, and the mix of both."""

    AGENT = "agent"
    CUSTOMER = "customer"
    MIXED = "mixed"


LEAD, TAIL, MIN_GAP = 0.5, 0.5, 0.4  # seconds of silence before, after and between turns

_INBOUND_REQUESTS = (
    "你好，我家卫生间刚做完防水，楼下邻居说有点渗水，想请你们派人来看看。",
    "你好，我想问一下我家的工程现在进行到哪一步了，什么时候能完工？",
    "你好，今天工地上一个工人都没有，工期会不会耽误？",
)
_CALLBACK_GREETING = "您好，我是装修公司客服中心的小王，今天给您做一个工程回访，请问您现在方便吗？"
_CALLBACK_ANSWERS = (
    "挺满意的，师傅们做得很认真。",
    "还行吧，就是工地有点乱，希望注意一下卫生。",
)


@dataclass(frozen=True)
class Turn:
    speaker: Track  # AGENT or CUSTOMER
    text: str


def script(kind: CallType, rng: random.Random) -> list[Turn]:
    """The lines of one conversation: the agent's greeting first and goodbye last."""
    if kind is CallType.CALLBACK:
        return [
            Turn(Track.AGENT, _CALLBACK_GREETING),
            Turn(Track.CUSTOMER, "方便，你说吧。"),
            Turn(Track.AGENT, "请问您对施工质量和施工队的服务满意吗？"),
            Turn(Track.CUSTOMER, rng.choice(_CALLBACK_ANSWERS)),
            Turn(Track.AGENT, "好的，谢谢您的反馈，我们会转告项目经理。请问还有其他需要帮助的吗？"),
            Turn(Track.CUSTOMER, "没有了。"),
            Turn(Track.AGENT, "感谢您的配合，再见。"),
        ]
    return [
        Turn(Track.AGENT, "您好，这里是装修公司客服中心，我是小王，请问有什么可以帮您？"),
        Turn(Track.CUSTOMER, rng.choice(_INBOUND_REQUESTS)),
        Turn(Track.AGENT, "好的，请稍等，我帮您查一下。"),
        Turn(Track.AGENT, "您放心，我已经登记了，今天会安排工程部的同事联系您。"),
        Turn(Track.CUSTOMER, "好的，谢谢你。"),
        Turn(Track.AGENT, "请问还有其他需要帮助的吗？"),
        Turn(Track.CUSTOMER, "没有了。"),
        Turn(Track.AGENT, "感谢您的来电，再见。"),
    ]


def layout(durations: list[float], total: float) -> list[tuple[int, float]]:
    """(turn index, start second) for the turns that fit in `total` seconds.

    The first turn starts after a short lead, the last ends just before the end; middle turns
    are kept in order while they fit, and the spare time is shared out between the turns.
    """
    if not durations or total <= LEAD:
        return []
    last = len(durations) - 1
    if last == 0 or LEAD + durations[0] + MIN_GAP + durations[last] + TAIL > total:
        return [(0, LEAD)]
    chosen, used = [0], durations[0] + durations[last]
    for index in range(1, last):
        if LEAD + used + durations[index] + MIN_GAP * len(chosen) + MIN_GAP + TAIL <= total:
            chosen.append(index)
            used += durations[index]
    chosen.append(last)
    gap = (total - LEAD - TAIL - used) / (len(chosen) - 1)
    placed, start = [], LEAD
    for index in chosen:
        placed.append((index, start))
        start += durations[index] + gap
    return placed


def render(turns: list[Turn], clips: list[array], total: float) -> dict[Track, array]:
    """The agent leg, the customer leg and their mix, `total` seconds long.

    `layout` never lets two turns overlap, so the mix is every clip at its place: copied in
    slices, not summed sample by sample (a Python loop over every sample cost the simulator
    more CPU than the rest of a call).
    """
    length = max(1, int(total * RATE))
    audio = {track: array("h", bytes(2 * length)) for track in Track}
    for index, start in layout([len(clip) / RATE for clip in clips], total):
        clip = clips[index]
        offset = int(start * RATE)
        span = min(len(clip), length - offset)
        if span > 0:
            for track in (turns[index].speaker, Track.MIXED):
                audio[track][offset : offset + span] = clip[:span]
    return audio


@dataclass(eq=False)
class Recording:
    """One MixMonitor on one channel: the mix and the r()/t() legs, and the bridged spans.

    With the `b` option only bridged audio is kept: a call that never bridged leaves files
    that hold a WAV header and nothing else, as Asterisk's do."""

    mixed: Path
    said: Path | None  # r(): what the recorded channel's party says
    heard: Path | None  # t(): what that party hears
    bridged_only: bool  # the `b` option
    customer_channel: bool  # the recorded channel is the customer's (else the agent's)
    turns: list[Turn]
    recorded: float = 0.0  # seconds recorded in finished spans
    since: float | None = None  # simulated time the current span started
    synthesis: asyncio.Task[list[array]] | None = field(default=None, repr=False)


def _options(options: str) -> tuple[bool, str | None, str | None]:
    """MixMonitor's options: `b`, `r(<file>)`, `t(<file>)` (others are ignored)."""
    bridged_only, said, heard, i = False, None, None, 0
    while i < len(options):
        char = options[i]
        if options[i + 1 : i + 2] == "(":
            end = options.index(")", i)
            value = options[i + 2 : end]
            if char == "r":
                said = value
            elif char == "t":
                heard = value
            i = end + 1
            continue
        bridged_only = bridged_only or char == "b"
        i += 1
    return bridged_only, said, heard


class Recorder:
    """Follows each MixMonitor through its channel's bridges and writes its files when the
    channel hangs up: synthesis starts with the first recorded span, writing after the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory).resolve()
        self.pending: set[asyncio.Task[Any]] = set()  # synthesis and file writing
        self._active: dict[object, Recording] = {}  # channel → its MixMonitor

    def file(self, reported: str, monitor_dir: str) -> Path:
        """Where a path the PBX reports is written: under the recordings directory when it is
        in the monitor directory (or relative to it), as a mounted spool would be."""
        path = Path(reported)
        if not path.is_absolute():
            return self.directory / path
        try:
            return self.directory / path.relative_to(monitor_dir)
        except ValueError:
            return path

    def start(
        self,
        channel: object,
        mixed: Path,
        options: str,
        *,
        locate: Callable[[str], Path],
        kind: CallType,
        customer_channel: bool,
        now: float,
        rng: random.Random,
    ) -> Recording:
        """MixMonitor(<mixed>,<options>) on `channel`; without `b` it records from now."""
        bridged_only, said, heard = _options(options)
        recording = Recording(
            mixed=mixed,
            said=locate(said) if said else None,
            heard=locate(heard) if heard else None,
            bridged_only=bridged_only,
            customer_channel=customer_channel,
            turns=script(kind, rng),
        )
        self._active[channel] = recording
        if not bridged_only:
            self._open_span(recording, now)
        return recording

    def bridged(self, channel: object, now: float) -> None:
        recording = self._active.get(channel)
        if recording is not None and recording.bridged_only:
            self._open_span(recording, now)

    def unbridged(self, channel: object, now: float) -> None:
        recording = self._active.get(channel)
        if recording is not None and recording.bridged_only:
            self._close_span(recording, now)

    def channel_gone(self, channel: object, now: float) -> None:
        """The channel hung up: its MixMonitor stops and the files are written."""
        recording = self._active.pop(channel, None)
        if recording is None:
            return
        self._close_span(recording, now)
        self._track(self._write(recording))

    def forget(self) -> None:
        """The PBX died: its MixMonitors stop without writing anything more."""
        self._active.clear()

    def _open_span(self, recording: Recording, now: float) -> None:
        if recording.since is None:
            recording.since = now
        if recording.synthesis is None:
            recording.synthesis = self._track(asyncio.to_thread(_synthesise, recording.turns))

    def _close_span(self, recording: Recording, now: float) -> None:
        if recording.since is not None:
            recording.recorded += max(0.0, now - recording.since)
            recording.since = None

    def _track(self, coro: Coroutine[Any, Any, _T]) -> asyncio.Task[_T]:
        task = asyncio.get_running_loop().create_task(coro)
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)
        return task

    async def _write(self, recording: Recording) -> None:
        clips = await recording.synthesis if recording.synthesis is not None else []
        await asyncio.to_thread(_write_files, recording, clips)

    async def idle(self) -> None:
        """Wait until every recording of the channels gone so far is on disk."""
        while self.pending:
            await asyncio.gather(*list(self.pending), return_exceptions=True)


def every_line() -> list[Turn]:
    """Every line any script may say: what `warm_voices` synthesises ahead of the calls."""
    lines = script(CallType.INBOUND, random.Random(0)) + script(CallType.CALLBACK, random.Random(0))
    lines += [Turn(Track.CUSTOMER, text) for text in (*_INBOUND_REQUESTS, *_CALLBACK_ANSWERS)]
    return list(dict.fromkeys(lines))


def warm_voices() -> None:
    """Synthesise every line now (blocking), so the first answered calls spawn no espeak-ng:
    a burst of them would take the CPU the calls' events need."""
    _synthesise(every_line())


def _synthesise(turns: list[Turn]) -> list[array]:
    return [
        utterance(turn.text, AGENT_VOICE if turn.speaker is Track.AGENT else CUSTOMER_VOICE)
        for turn in turns
    ]


def _write_files(recording: Recording, clips: list[array]) -> None:
    """The mix and the legs; header-only files when nothing was recorded."""
    if recording.recorded <= 0 or not clips:
        silent = array("h")
        audio = dict.fromkeys(Track, silent)
    else:
        audio = render(recording.turns, clips, recording.recorded)
    said, heard = (
        (Track.CUSTOMER, Track.AGENT)
        if recording.customer_channel
        else (Track.AGENT, Track.CUSTOMER)
    )
    write_wav(recording.mixed, audio[Track.MIXED])
    if recording.said is not None:
        write_wav(recording.said, audio[said])
    if recording.heard is not None:
        write_wav(recording.heard, audio[heard])
