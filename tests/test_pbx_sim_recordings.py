"""The simulator's recordings: valid 8 kHz mono WAV legs whose speech never overlaps."""

from __future__ import annotations

import itertools
import math
import random
import wave
from array import array
from pathlib import Path

import pytest

from telephony.contract import CallType
from telephony.pbx_sim import speech
from telephony.pbx_sim.recordings import LEAD, Track, layout, render, script
from tests.test_pbx_sim_support import RawAmi, address, running

WINDOW = 160  # 20 ms at 8 kHz


def active_windows(samples: array, threshold: int = 300) -> set[int]:
    """Indexes of the 20 ms windows that hold sound."""
    return {
        start // WINDOW
        for start in range(0, len(samples), WINDOW)
        if max((abs(v) for v in samples[start : start + WINDOW]), default=0) > threshold
    }


def read_leg(path: Path) -> array:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        return array("h", wav.readframes(wav.getnframes()))


def test_layout_greets_first_closes_last_and_never_overlaps():
    durations = [6.0, 4.0, 2.0, 3.0, 1.0, 2.0, 1.0, 2.0]
    placed = layout(durations, 60.0)
    assert placed[0] == (0, LEAD)
    last, start = placed[-1]
    assert last == len(durations) - 1 and start + durations[last] == pytest.approx(59.5)
    spans = [(start, start + durations[index]) for index, start in placed]
    assert all(end <= following for (_, end), (following, _) in itertools.pairwise(spans))
    assert [index for index, _ in placed] == sorted(index for index, _ in placed)


def test_layout_drops_middle_turns_that_do_not_fit():
    durations = [6.0, 4.0, 2.0, 3.0, 1.0, 2.0, 1.0, 2.0]
    placed = layout(durations, 12.0)
    assert placed[0][0] == 0 and placed[-1][0] == 7 and len(placed) < len(durations)
    assert layout(durations, 5.0) == [(0, LEAD)]  # too short to say goodbye
    assert layout(durations, 0.2) == []


def test_resample_keeps_duration_and_pitch():
    rate, seconds, tone = 22050, 1.0, 440
    samples = array(
        "h",
        (int(8000 * math.sin(2 * math.pi * tone * i / rate)) for i in range(int(rate * seconds))),
    )
    narrow = speech.resample(samples, rate)
    assert len(narrow) == pytest.approx(8000, abs=2)
    crossings = sum(1 for a, b in itertools.pairwise(narrow) if a < 0 <= b)
    assert crossings == pytest.approx(tone * seconds, abs=3)


def test_render_mixes_the_two_legs():
    turns = script(CallType.INBOUND, random.Random(1))
    clips = [speech.noise_burst(1.0, random.Random(i)) for i in range(len(turns))]
    audio = render(turns, clips, 30.0)
    agent, customer, mixed = audio[Track.AGENT], audio[Track.CUSTOMER], audio[Track.MIXED]
    assert len(agent) == len(customer) == len(mixed) == 240000
    assert all(a + c == m for a, c, m in zip(agent, customer, mixed, strict=True))
    assert not active_windows(agent) & active_windows(customer)


async def _recorded_call(tmp_path: Path, talk_seconds: float) -> dict[str, Path]:
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call(
            "13800138000", talk_seconds=talk_seconds, hangup_by="caller"
        )
        await ami.wait_event(lambda m: m.is_event("AgentComplete", Linkedid=linkedid), 30)
        await sim.wait_recordings()
        announced = {
            m["Variable"]: Path(m["Value"])
            for m in ami.log
            if m.is_event("VarSet", Linkedid=linkedid)
            and m["Variable"] in ("CC_REC_AGENT", "CC_REC_CUSTOMER", "MIXMONITOR_FILENAME")
        }
        starts = [m for m in ami.log if m.is_event("MixMonitorStart", Linkedid=linkedid)]
        assert len(starts) == 1
        ami.close()
    return announced


def _assert_conversation(files: dict[str, Path], talk_seconds: float) -> None:
    agent = read_leg(files["CC_REC_AGENT"])
    customer = read_leg(files["CC_REC_CUSTOMER"])
    mixed = read_leg(files["MIXMONITOR_FILENAME"])
    assert len(agent) == len(customer) == len(mixed)
    assert len(agent) / 8000 == pytest.approx(talk_seconds, abs=1.5)
    spoken_agent, spoken_customer = active_windows(agent), active_windows(customer)
    assert spoken_agent and spoken_customer and active_windows(mixed)
    assert not spoken_agent & spoken_customer  # nobody talks over the other
    assert min(spoken_agent) < min(spoken_customer)  # the agent greets first
    assert max(spoken_agent) > max(spoken_customer)  # ... and says goodbye last
    assert min(spoken_agent) * WINDOW / 8000 < 10  # greeting within the first 10 s


async def test_answered_call_writes_three_wav_files_with_separate_speech(tmp_path: Path):
    files = await _recorded_call(tmp_path, 45)
    assert set(files) == {"CC_REC_AGENT", "CC_REC_CUSTOMER", "MIXMONITOR_FILENAME"}
    assert all(path.is_absolute() and path.parent == tmp_path / "rec" for path in files.values())
    _assert_conversation(files, 45)


async def test_without_espeak_the_legs_hold_noise_bursts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    monkeypatch.setattr(speech, "_cache", {})
    files = await _recorded_call(tmp_path, 45)
    _assert_conversation(files, 45)


async def test_unbridged_calls_leave_header_only_files(tmp_path: Path):
    """MixMonitor's `b` records only bridged audio: a caller who never reached an agent leaves
    three WAVs holding a 44-byte header each (inbound_answered_first_abandoned and
    inbound_joinempty, fixtures README)."""
    async with running(tmp_path, static_members={"service": ["1001"]}) as sim:
        ami = await RawAmi.connect(address(sim))
        linkedid = await sim.place_inbound_call("13800138000", abandon=True)
        await ami.wait_event(lambda m: m.is_event("Hangup", Linkedid=linkedid), 15)
        await sim.wait_recordings()
        announced = {
            m["Variable"]: Path(m["Value"])
            for m in ami.log
            if m.is_event("VarSet", Linkedid=linkedid)
            and m["Variable"] in ("CC_REC_AGENT", "CC_REC_CUSTOMER", "MIXMONITOR_FILENAME")
        }
        ami.close()
    assert len(announced) == 3
    assert sorted(path.stat().st_size for path in announced.values()) == [44, 44, 44]
    assert all(len(read_leg(path)) == 0 for path in announced.values())
