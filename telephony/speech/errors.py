"""What can go wrong turning a recording into words, in terms an operator can act on."""

from __future__ import annotations


class TranscriptionError(Exception):
    """A file could not be transcribed; the message names the file."""


class AudioFormatError(TranscriptionError):
    """The file is missing, not a WAV, or not audio the recogniser takes."""


class ModelUnavailable(TranscriptionError):
    """No usable Vosk model: not configured, missing, or not a model directory."""


class WorkerCrashed(TranscriptionError):
    """The worker process died (killed, out of memory, crashed in native code) mid-file."""

    def __init__(self, message: str, *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason  # e.g. "killed by SIGKILL"
