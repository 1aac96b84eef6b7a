"""Transcribing only speech (issue 19): the voice-activity detector's regions, and the words
and times they give against decoding the whole file, with the real Korean test model."""

from __future__ import annotations

import statistics
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crm.settings import ConfigurationError, load_settings
from telephony.speech import recognizer
from telephony.speech.audio import inspect_wav
from telephony.speech.recognizer import (
    LoadedModel,
    Transcript,
    WarmRecognizers,
    load_model,
    transcribe_file,
)
from telephony.speech.speech_detection import (
    FRAME_SECONDS,
    Region,
    SpeechDetection,
    find_speech,
    merge_regions,
)
from telephony.speech.status import speech_detection
from tests.data import speech_audio as audio

PHRASES = ("안녕하세요 고객님", "공사 일정이 어떻게 되나요", "내일 다시 전화 드리겠습니다")
Files = dict[str, Path]


TURNS = ((4.013, "phrase0"), (13.507, "phrase1"), (24.25, "phrase2"))  # off the 30 ms grid


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    d = tmp_path_factory.mktemp("speech-only")
    said = {f"phrase{i}": audio.speak(text, d / f"phrase{i}.wav") for i, text in enumerate(PHRASES)}
    return {
        **said,
        # A leg of a call: long silences (the other party talking) between three turns.
        "pauses": audio.place([(at, said[c]) for at, c in TURNS], d / "pauses.wav", total=31.0),
        # The customer speaks only at the very end of a long call.
        "late": audio.place([(52.111, said["phrase1"])], d / "late.wav", total=56.0),
        "silent": audio.silence(d / "silent.wav", 40.0),
    }


@pytest.fixture(scope="module")
def model() -> LoadedModel:
    return load_model(audio.KOREAN_MODEL)


def _cut(path: Path, region: Region, out: Path) -> Path:
    """Frames [region.start, region.end) of `path` as a file of their own."""
    with wave.open(str(path), "rb") as recording:
        recording.setpos(region.start)
        data = recording.readframes(region.frames)
        with wave.open(str(out), "wb") as cut:
            cut.setparams(recording.getparams())
            cut.writeframes(data)
    return out


def _assert_each_region_as_if_alone(
    model: LoadedModel, path: Path, speech_only: Transcript, tmp_path: Path
) -> list[Region]:
    """The speech-only words are, region by region, the words of that region decoded as a file
    of its own by a fresh recogniser, shifted by the region's start: the one recogniser a
    file uses starts every region afresh, and its running clock is taken off exactly."""
    regions = find_speech(inspect_wav(path), SpeechDetection())
    expected: list[tuple[str, float, float]] = []
    for n, region in enumerate(regions):
        alone = transcribe_file(model, _cut(path, region, tmp_path / f"region{n}.wav"), None)
        shift = region.start / 8000
        expected += [(w.word, w.start + shift, w.end + shift) for w in alone.words]
    got = [(w.word, w.start, w.end) for w in speech_only.words]
    assert [w for w, _, _ in got] == [w for w, _, _ in expected]
    for (_, start, end), (_, want_start, want_end) in zip(got, expected, strict=True):
        assert start == pytest.approx(want_start, abs=0.002)
        assert end == pytest.approx(want_end, abs=0.002)
    return regions


def test_long_silences_are_skipped_and_every_turn_is_heard(
    model: LoadedModel, files: Files, tmp_path: Path
) -> None:
    info = inspect_wav(files["pauses"])
    speech_only = transcribe_file(model, files["pauses"])  # the default: speech only
    regions = _assert_each_region_as_if_alone(model, files["pauses"], speech_only, tmp_path)
    # Most of the leg (its silences) is never decoded...
    assert sum(r.frames for r in regions) < 0.5 * info.frames
    # ...every turn is inside a region, and has words on the recording's clock.
    for start, clip in TURNS:
        end = start + audio.duration(files[clip])
        assert any(r.start / 8000 <= start and end <= r.end / 8000 for r in regions), start
        heard = [w for w in speech_only.words if start - 0.3 <= w.start <= end + 0.3]
        assert heard, f"no words for the turn at {start} s"
    assert all(r.start % round(8000 * FRAME_SECONDS) == 0 for r in regions)  # Vosk's grid
    assert speech_only.duration == pytest.approx(31.0, abs=0.01)


def test_speech_late_in_the_file_keeps_the_recordings_clock(
    model: LoadedModel, files: Files, tmp_path: Path
) -> None:
    speech_only = transcribe_file(model, files["late"])
    assert speech_only.words
    # Words at 52 s, not at the 0.3 s they are into the region the recogniser was fed.
    spoken = audio.duration(files["phrase1"])
    for word in speech_only.words:
        assert 52.111 - 0.25 <= word.start <= word.end <= 52.111 + spoken + 0.25, word
    _assert_each_region_as_if_alone(model, files["late"], speech_only, tmp_path)


def test_a_silent_leg_has_no_words_and_is_never_decoded(
    model: LoadedModel, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vosk

    made: list[Any] = []
    real = vosk.KaldiRecognizer

    def counting(*args: Any) -> Any:
        made.append(args)
        return real(*args)

    monkeypatch.setattr(vosk, "KaldiRecognizer", counting)
    transcript = transcribe_file(model, files["silent"])
    assert transcript.words == () and transcript.duration == pytest.approx(40.0, abs=0.01)
    assert made == []  # the detector's pass only: no recogniser, no decoding
    assert transcribe_file(model, files["silent"], None, reuse=False).words == ()
    assert len(made) == 1  # the counter counts: whole-file decoding made one


def test_regions_are_padded_merged_and_clipped() -> None:
    frame = 240  # 30 ms at 8 kHz
    flags = [False] * 100
    for index in (2, 3, 20, 24, 60, 99):
        flags[index] = True
    regions = merge_regions(flags, frame=frame, total=100 * frame + 100, padding=480, merge_gap=0)
    spans = [(r.start, r.end) for r in regions]
    # 2-3 padded by two frames each side (clipped at 0); 20 and 24 overlap once padded; 60
    # alone; 99 is the last whole frame, so its region takes the partial frame after it too.
    assert spans == [
        (0, 6 * frame),
        (18 * frame, 27 * frame),
        (58 * frame, 63 * frame),
        (97 * frame, 100 * frame + 100),
    ]
    # Gaps of 12 frames or less are merged: 0-6 and 18-27 are, 58-63 stands alone.
    merged = merge_regions(flags, frame=frame, total=100 * frame, padding=480, merge_gap=12 * frame)
    assert [(r.start, r.end) for r in merged] == [
        (0, 27 * frame),
        (58 * frame, 63 * frame),
        (97 * frame, 100 * frame),
    ]
    silent = [False] * 50
    assert merge_regions(silent, frame=frame, total=50 * frame, padding=480, merge_gap=0) == []


def test_a_short_pause_inside_a_turn_is_not_a_cut(files: Files) -> None:
    # Words of one turn with 0.6 s between them are one region with the default merge, so
    # no word is split between two recognisers.
    info = inspect_wav(files["phrase1"])
    spoken = audio.duration(files["phrase1"])
    assert spoken > 1.0
    d = files["phrase1"].parent
    turn = audio.place(
        [(1.0, files["phrase1"]), (1.0 + spoken + 0.6, files["phrase1"])],
        d / "turn.wav",
        total=2 * spoken + 3.0,
    )
    assert info.rate == 8000
    assert len(find_speech(inspect_wav(turn), SpeechDetection())) == 1
    apart = find_speech(inspect_wav(turn), SpeechDetection(padding=0.0, merge_gap=0.0))
    assert len(apart) >= 2  # the detector does see the pause: the merge is what joins it


def test_settings_choose_how_speech_is_found() -> None:
    assert speech_detection(load_settings()) == SpeechDetection()
    assert speech_detection(load_settings(transcription_speech_only=False)) is None
    tuned = load_settings(
        transcription_vad_aggressiveness=3,
        transcription_vad_padding_seconds=0.5,
        transcription_vad_merge_seconds=2.0,
    )
    assert speech_detection(tuned) == SpeechDetection(3, 0.5, 2.0)
    with pytest.raises(ConfigurationError, match="CALLCENTRE_TRANSCRIPTION_VAD_AGGRESSIVENESS"):
        load_settings(transcription_vad_aggressiveness=4)
    with pytest.raises(ValueError, match="aggressiveness 4"):
        SpeechDetection(aggressiveness=4)


def _timed(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.word, w.start, w.end) for w in transcript.words]


def test_a_warm_recogniser_gives_each_file_the_words_and_times_of_a_fresh_one(
    model: LoadedModel, files: Files, tmp_path: Path
) -> None:
    # One worker's day in miniature, at the PBX's 8 kHz: legs with speech early and late, a
    # silent one, whole files, another padding, and the first legs again, through the same
    # warm recogniser.
    sequence: list[tuple[Path, SpeechDetection | None]] = [
        (files["pauses"], SpeechDetection()),
        (files["late"], SpeechDetection()),
        (files["silent"], SpeechDetection()),
        (files["phrase0"], None),
        (files["pauses"], None),
        (files["late"], SpeechDetection(padding=0.5)),
        (files["pauses"], SpeechDetection()),
        (files["late"], None),
    ]
    warm = replace(model, recognizers=WarmRecognizers())
    for path, detection in sequence:
        fresh = _timed(transcribe_file(model, path, detection, reuse=False))
        reused = _timed(transcribe_file(warm, path, detection))
        assert fresh or path == files["silent"]
        _assert_same_within_noise(fresh, reused, (path.name, detection))
    assert warm.recognizers.made == 1  # one recogniser did all of it
    wideband = audio.speak(PHRASES[1], tmp_path / "wideband.wav", rate=16000)
    _assert_same_within_noise(
        _timed(transcribe_file(model, wideband, None, reuse=False)),
        _timed(transcribe_file(warm, wideband, None)),
        "wideband",
    )
    assert warm.recognizers.made == 2  # another rate, a recogniser of its own


def _assert_same_within_noise(
    fresh: list[tuple[str, float, float]], reused: list[tuple[str, float, float]], what: object
) -> None:
    """Most runs give exactly the fresh recogniser's words and times, but not all: on this
    model two decodes of the same file with fresh recognisers in two test runs have differed
    by a few words and their times by up to 92 ms (bench/README.md; one word's end once by
    330 ms), so the bound is the model's noise (a 30 ms shift moves a quarter of its words):
    the median shared word and most of them, not every one. A clock taken off wrongly would
    move every word by seconds."""
    words = audio.word_error_rate([w for w, _, _ in fresh], [w for w, _, _ in reused])
    assert words <= 0.25, what
    # A clock taken off wrongly moves every word by seconds. The model's noise moves a few
    # shared words, next to where two decodes part ways: within 50 ms in most runs, up to
    # 92 ms in one, and once (a fresh clone's full run) one word's end by 330 ms.
    deltas = audio.time_deltas(fresh, reused)
    if deltas:
        assert statistics.median(deltas) <= 0.05, (what, deltas)
        assert sum(d <= 0.15 for d in deltas) >= 0.8 * len(deltas), (what, deltas)


def test_a_warm_recogniser_is_renewed_before_its_clock_loses_precision(
    model: LoadedModel, files: Files, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm = replace(model, recognizers=WarmRecognizers())
    expected = _timed(transcribe_file(model, files["late"], None, reuse=False))
    monkeypatch.setattr(recognizer, "RENEW_AFTER_SECONDS", 100.0)  # the leg is 56 s long
    for n in range(4):
        _assert_same_within_noise(expected, _timed(transcribe_file(warm, files["late"], None)), n)
    assert warm.recognizers.made == 2  # 112 s fed to the first: replaced, not put back


def test_a_recogniser_is_lent_to_one_decode_at_a_time_and_dropped_after_a_failure(
    model: LoadedModel,
) -> None:
    recognizers = WarmRecognizers()
    with (
        recognizers.borrow(model.vosk, 8000) as first,
        recognizers.borrow(model.vosk, 8000) as second,
    ):
        assert first is not second  # two decodes at once (two threads) never share one
    with recognizers.borrow(model.vosk, 8000) as again:
        assert again in (first, second)
    assert recognizers.made == 2
    with pytest.raises(RuntimeError), recognizers.borrow(model.vosk, 8000) as failing:
        raise RuntimeError("Kaldi gave up mid-file")
    with recognizers.borrow(model.vosk, 8000) as a, recognizers.borrow(model.vosk, 8000) as b:
        assert failing not in (a, b)  # its state is unknown: never lent again
    assert recognizers.made == 3


def test_a_korean_two_leg_call_speech_only_against_the_whole_file(
    model: LoadedModel, tmp_path: Path
) -> None:
    """Issue 19's goal on audio in the test model's language: an agent and a customer in
    turn, each leg silent while the other speaks. What holds: every turn is decoded and
    heard, on the recording's clock, for a fraction of the leg; the words both transcripts
    have agree in time. What does not: the same words (WER ≤ 2%). The test model turns
    espeak-ng Korean into near-nonsense whose words move with any change of context (the
    whole file decoded 30 ms later differs by about a quarter of its words, bench/README.md),
    so speech only, which starts each turn's adaptation afresh, differs by about 40%; the
    bound below is what this audio allows, not the goal."""
    detection = SpeechDetection()
    agent, customer, turns = audio.two_leg_call(
        tmp_path, "call", turns=6, pauses=(3.0, 6.0), seed=1
    )
    pairs: list[tuple[list[tuple[str, float, float]], list[tuple[str, float, float]]]] = []
    for who, leg in (("agent", agent), ("customer", customer)):
        info = inspect_wav(leg)
        regions = find_speech(info, detection)
        assert sum(r.frames for r in regions) < 0.5 * info.frames  # most of it never decoded
        whole = _timed(transcribe_file(model, leg, None, reuse=False))
        speech = _timed(transcribe_file(model, leg, detection))
        own = [(start, end) for speaker, start, end in turns if speaker == who]
        reach = detection.padding + 0.1
        for start, end in own:  # every turn heard, and only where someone speaks
            heard = [w for w in speech if start - reach <= w[1] <= end + reach]
            assert heard, f"{who}: nothing heard of the turn at {start} s"
        for word, start, end in speech:
            assert any(s - reach <= start and end <= e + reach for s, e in own), word
        spans = [(start - reach, end + reach) for start, end in own]
        for low, high in spans:  # turn by turn: the same place is the same turn
            pairs.append(
                (
                    [w for w in whole if low <= w[1] <= high],
                    [w for w in speech if low <= w[1] <= high],
                )
            )
        # A word the whole file has outside every turn is one speech only missed.
        pairs.append(([w for w in whole if not any(lo <= w[1] <= hi for lo, hi in spans)], []))
    edits = sum(  # a turn the whole file heard nothing in: every speech-only word inserted
        audio.word_error_rate([w for w, _, _ in a], [w for w, _, _ in b]) * len(a) if a else len(b)
        for a, b in pairs
    )
    wer = edits / sum(len(a) for a, _ in pairs)
    deltas = [d for a, b in pairs for d in audio.time_deltas(a, b)]
    assert deltas, "no word in common"
    # Measured here: WER 37–45%, 22 to 25 of 24–27 shared words within 50 ms, the rest mostly
    # within 140 ms; the model's words move from run to run, and CI once saw one 286 ms apart.
    # A clock taken off wrongly (a region's start or its padding missed) would move every word
    # of a turn by the padding or more: the last two assertions guard it, with room for the
    # model's odd word.
    assert wer <= 0.6
    assert sum(d <= 0.05 for d in deltas) >= 0.8 * len(deltas)
    assert sum(d > 0.15 for d in deltas) <= max(1, len(deltas) // 10)
    assert max(deltas) < detection.padding / 2
