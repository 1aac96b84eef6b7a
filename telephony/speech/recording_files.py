"""Where a call's recording is on this machine.

The PBX reports its own path (e.g. /var/spool/asterisk/monitor/inbound-1001-17.wav). When the
server runs elsewhere, the recordings are copied or mounted into CALLCENTRE_RECORDINGS_DIR and
found there by file name: the stored path is tried first, then the same relative path under
the recordings directory, then the file name alone under it.
"""

from __future__ import annotations

from pathlib import Path

from telephony.speech.errors import AudioFormatError


def local_recording(stored: str, recordings_dir: Path) -> Path:
    """The readable file for a stored recording path; AudioFormatError naming the places
    looked at when there is none (the PBX may not have finished writing it yet)."""
    path = Path(stored)
    candidates = [path]
    if not path.is_absolute():
        candidates.append(recordings_dir / path)
    candidates.append(recordings_dir / path.name)
    for candidate in dict.fromkeys(candidates):
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise AudioFormatError(
        f"recording {stored} not found (looked at {looked}); the PBX's "
        f"recordings must be copied or mounted into "
        f"CALLCENTRE_RECORDINGS_DIR ({recordings_dir})"
    )
