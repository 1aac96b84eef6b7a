"""Every benchmark runs at a tiny size and ends with its JSON line (figures are not checked:
performance is never asserted in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "ami_ingest": {
        "events",
        "calls_stored",
        "events_per_second",
        "baseline_events_per_second",
        "ratio",
        "ratio_cpu",
        "goal_met",
    },
    "screen_pops": {"agents", "calls", "pop", "baseline", "ratio_p99", "goal_met"},
    "pops_curve": {"points", "plot", "none_late_or_lost", "goal_met"},
    "transcription": {
        "audio_seconds",
        "vosk_seconds",
        "cli_1_seconds",
        "cli_2_seconds",
        "cli_1_transcribing_seconds",
        "cli_2_transcribing_seconds",
        "overhead",
        "scaling",
        "whole_command_scaling",
        "ratio",
        "speech_only_ratio",
        "speech_only_wer",
        "speech_only_time_within",
        "control_shift_wer",
        "speech_only_sets",
        "goal_met",
    },
    "caller_lookup": {"sqlite", "postgresql", "goal_met"},
    "due_callbacks": {"sqlite", "postgresql", "goal_met"},
    "recording_storage": {
        "wav_bytes",
        "ogg_bytes",
        "ratio",
        "cpu_seconds_per_audio_hour",
        "decoded_length_off_by_samples",
        "goal_met",
    },
    "busy_day": {
        "agents",
        "inbound_calls",
        "zero",
        "pop",
        "pop_by_hour",
        "backlog_by_hour",
        "memory",
        "rss_growth",
        "pg_stat_activity",
        "goals",
        "goal_met",
    },
}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_benchmark_runs_and_ends_with_its_figures(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", name, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) > 1  # human-readable lines first
    figures = json.loads(lines[-1])
    assert figures["benchmark"] == name
    assert KEYS[name] <= set(figures), KEYS[name] - set(figures)
    assert isinstance(figures["goal_met"], bool)
    if name == "ami_ingest":
        assert figures["calls_stored"] == figures["calls"]  # nothing lost on the way
    if name == "transcription":  # a file's words do not depend on the number of workers
        assert figures["words"]["cli_1"] == figures["words"]["cli_2"] > 0
        for kind in ("korean", "simulator"):  # both sets decoded both ways, with words
            words = figures["speech_only_sets"][kind]["words"]
            assert words["whole"] > 0 and words["speech"] > 0, kind
    if name == "busy_day":  # the whole day ran through every process, nothing lost on the way
        assert figures["inbound_calls"] > 0 and figures["checks"]["calls_stored"] > 0
        zero = figures["zero"]
        for kind in ("calls_lost", "calls_duplicated", "transcripts_lost", "dials_duplicated"):
            assert zero[kind] == 0, (kind, zero)
        assert set(figures["memory"]) == {"start", "middle", "end"}
    if name == "pops_curve":  # every point measured or said why not, and drawn
        assert all("pop" in p or "skipped" in p for p in figures["points"])
        assert Path(figures["plot"]).stat().st_size > 0
    if name in ("caller_lookup", "due_callbacks"):
        for kind in ("sqlite", "postgresql"):
            assert {"baseline", "goal_met"} <= set(figures[kind])
            assert figures[kind].get("wrong", 0) == 0  # every written form found
            assert len(figures[kind]["curve"]) >= 2  # the cost at several sizes


def test_screen_pops_runs_on_the_multi_process_topology() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.screen_pops", "--cluster", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["topology"] == "cluster" and figures["database"] == "postgresql"
    assert figures["rung"] == figures["calls"] > 0 and figures["lost"] == 0


def test_the_benchmark_captures_are_the_real_asterisk_ones() -> None:
    """bench/captures/ lets a clone without the shared fixtures run the benchmarks; its files
    must stay the very bytes captured from Asterisk that the test suite replays."""
    from bench.common import FIXTURES as bench_captures
    from tests.conftest import FIXTURES as captures

    copies = sorted(bench_captures.glob("*.txt"))
    assert {p.stem for p in copies} >= {
        "inbound_queue_answered",
        "outbound_callback_dial_bridged",
        "callback_busy",
    }
    for copy in copies:
        assert copy.read_bytes() == (captures / copy.name).read_bytes(), copy.name
