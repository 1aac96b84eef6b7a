"""Whether a recording is complete, from its first bytes: Asterisk writes a WAV's RIFF sizes
as 0 when the recording starts and fills them in when it stops, so a file still being
recorded (or a copy taken meanwhile: rsync, a mount, a fetch) says so itself."""

from __future__ import annotations

HEADER_BYTES = 12  # "RIFF", the RIFF size, "WAVE"


def wav_unfinished(header: bytes, size: int) -> bool:
    """Whether a RIFF file is still being written: sizes not filled in yet, or a size beyond
    the file (cut short). Other formats cannot tell, and count as finished."""
    if len(header) < 8 or header[:4] != b"RIFF":
        return False
    riff_size = int.from_bytes(header[4:8], "little")
    return riff_size == 0 or riff_size + 8 > size
