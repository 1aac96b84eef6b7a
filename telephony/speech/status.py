"""Whether the server transcribes calls, the sentence that says so at start-up, and the pool
for the configured model (here, not beside the worker, so that `callcentre transcribe` stays
light to start)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crm.clock import Clock
from crm.settings import Settings
from telephony.speech.errors import ModelUnavailable
from telephony.speech.model_dir import DOWNLOAD_HINT, model_name, model_problems
from telephony.speech.pool import TranscriptionPool
from telephony.speech.speech_detection import SpeechDetection


@dataclass(frozen=True, slots=True)
class TranscriptionStatus:
    enabled: bool
    message: str
    model: Path | None = None


def transcription_status(settings: Settings) -> TranscriptionStatus:
    """On with a usable model, off otherwise; the message says why and how to turn it on.

    Calls are queued for transcription either way, so they are transcribed once a model is
    configured and the server restarted.
    """
    path = settings.vosk_model_path
    if path is None:
        return TranscriptionStatus(
            False,
            "transcription is off: CALLCENTRE_VOSK_MODEL_PATH is not set. Calls are "
            f"still recorded and queued; {DOWNLOAD_HINT}, then restart.",
        )
    problems = model_problems(path)
    if problems:
        return TranscriptionStatus(
            False,
            f"transcription is off: CALLCENTRE_VOSK_MODEL_PATH: {problems[0]}; {DOWNLOAD_HINT}.",
            path,
        )
    return TranscriptionStatus(
        True,
        f"transcription is on: model {model_name(path)} ({path}), "
        f"{settings.transcription_workers} worker process(es), each replaced after "
        f"{settings.transcription_recycle_after} files",
        path,
    )


def open_pool(
    settings: Settings,
    *,
    clock: Clock,
    model_path: Path | None = None,
    workers: int | None = None,
    crash_retries: int = 0,
) -> TranscriptionPool:
    """A pool for the configured model; ModelUnavailable with the start-up message if none."""
    path = model_path or settings.vosk_model_path
    if path is None:
        raise ModelUnavailable(transcription_status(settings).message)
    return TranscriptionPool(
        path,
        clock=clock,
        workers=workers or settings.transcription_workers,
        recycle_after=settings.transcription_recycle_after,
        crash_retries=crash_retries,
        detection=speech_detection(settings),
    )


def speech_detection(settings: Settings) -> SpeechDetection | None:
    """How the workers find speech to decode; None: they decode whole files."""
    if not settings.transcription_speech_only:
        return None
    return SpeechDetection(
        aggressiveness=settings.transcription_vad_aggressiveness,
        padding=settings.transcription_vad_padding_seconds,
        merge_gap=settings.transcription_vad_merge_seconds,
    )
