"""Recording storage: how much smaller a call's audio is once compressed after transcription
(issue 20), and what the compression costs in CPU.

Audio: one side of a service call as the PBX records it (8 kHz 16-bit mono WAV): Mandarin
sentences by espeak-ng with the pauses of listening to the other side
(`tests.data.speech_audio.conversation`), several calls of different pace. Real path:
`telephony.recordings.opus.encode`, what the compression job runs (encode, sync, rename,
decode in full to verify). Baseline: libsndfile's Opus encoder driven directly
(`soundfile.write`, nothing synced or verified), on the same files, in the same run.

Figures: the ratio of WAV bytes to Ogg bytes over all files (goal >= 8), the encode's CPU
seconds per hour of audio for the real path and the bare encoder (what the verify and sync
add), and the decoded length against the WAV's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import soundfile

from bench.common import finish, ratio, say, scratch_dir
from telephony.recordings.opus import OPUS_KBPS, OPUS_LEVEL, encode
from tests.data import speech_audio as audio

GOAL_RATIO = 8.0
CALLS = ((2, 2.5), (3, 1.5), (2, 4.0), (4, 2.0))  # (rounds of the sentences, pause seconds)


def _bare_encode(wav: Path, ogg: Path) -> None:
    samples, rate = soundfile.read(str(wav), dtype="int16")
    soundfile.write(
        str(ogg), samples, rate, format="OGG", subtype="OPUS", compression_level=OPUS_LEVEL
    )


def run(*, quick: bool = False) -> dict[str, object]:
    calls = CALLS[:1] if quick else CALLS
    with scratch_dir("recordings") as directory:
        wavs = [
            audio.conversation(directory / f"call{i}.wav", rounds=1 if quick else r, listening=p)
            for i, (r, p) in enumerate(calls)
        ]
        seconds = sum(soundfile.info(str(w)).duration for w in wavs)
        wav_bytes = ogg_bytes = 0
        real_cpu = bare_cpu = 0.0
        worst_length = 0
        for wav in wavs:
            ogg = wav.with_suffix(".ogg")
            start = time.process_time()
            encoded = encode(wav, ogg)
            real_cpu += time.process_time() - start
            start = time.process_time()
            _bare_encode(wav, wav.with_suffix(".bare.ogg"))
            bare_cpu += time.process_time() - start
            wav_bytes += encoded.wav_bytes
            ogg_bytes += encoded.ogg_bytes
            worst_length = max(worst_length, abs(encoded.frames - soundfile.info(str(wav)).frames))
            say(
                f"{wav.name}: {encoded.seconds:6.1f} s  {encoded.wav_bytes:>9,} B WAV -> "
                f"{encoded.ogg_bytes:>8,} B Ogg  ({encoded.wav_bytes / encoded.ogg_bytes:.1f}x)"
            )
    hours = seconds / 3600
    size_ratio = ratio(wav_bytes, ogg_bytes)
    figures = {
        "audio_seconds": round(seconds, 1),
        "opus_kbps": OPUS_KBPS,
        "wav_bytes": wav_bytes,
        "ogg_bytes": ogg_bytes,
        "ratio": size_ratio,
        "cpu_seconds_per_audio_hour": round(real_cpu / hours, 1),
        "bare_encoder_cpu_seconds_per_audio_hour": round(bare_cpu / hours, 1),
        "decoded_length_off_by_samples": worst_length,
        "goal_met": size_ratio >= GOAL_RATIO and worst_length == 0,
    }
    say(
        f"{seconds:.0f} s of speech: {wav_bytes:,} B as WAV, {ogg_bytes:,} B as Ogg Opus "
        f"({OPUS_KBPS} kbit/s): {size_ratio:.1f}x smaller (goal >= {GOAL_RATIO:g}x)"
    )
    say(
        f"encode + sync + verify: {figures['cpu_seconds_per_audio_hour']} CPU-s per audio hour "
        f"(the bare encoder: {figures['bare_encoder_cpu_seconds_per_audio_hour']})"
    )
    return finish("recording_storage", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    run(quick=parser.parse_args().quick)
