"""Which file under the recordings directory a path reported by the PBX names: pure
decisions, no file system access.

The PBX reports absolute paths of its own (`/var/spool/asterisk/monitor/2024/05/01/x.wav`).
The order, first match wins:

1. under the PBX's recordings directory (CALLCENTRE_RECORDINGS_PBX_DIR): the same sub-path
   under the server's (CALLCENTRE_RECORDINGS_DIR), dated folders kept;
2. already under the server's recordings directory (same host, or the PBX simulator): as is;
3. a relative path: under the server's recordings directory.

Anything else (an absolute path elsewhere, any `..`) is refused. The file name alone is never
looked up: with dated folders two days may hold the same name, and another call's recording
must never be played.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from telephony.recordings.errors import RecordingRefused


def recording_subpath(
    stored: str, *, pbx_dir: PurePosixPath, recordings_dirs: Sequence[PurePosixPath]
) -> PurePosixPath:
    """The recording's path relative to the server's recordings directory (`recordings_dirs`:
    its absolute spellings, as configured and with links resolved); RecordingRefused when the
    PBX's path must not be read."""
    if not stored or not stored.strip():
        raise RecordingRefused("empty recording path: refused")
    if "\0" in stored:
        raise RecordingRefused(f"recording path {stored!r} contains a NUL byte: refused")
    path = PurePosixPath(stored)
    if ".." in path.parts:
        raise RecordingRefused(f"recording path {stored!r} contains '..': refused")
    if not path.is_absolute():
        subpath = path
    elif path.is_relative_to(pbx_dir):
        subpath = path.relative_to(pbx_dir)
    elif inside := next((d for d in recordings_dirs if path.is_relative_to(d)), None):
        subpath = path.relative_to(inside)
    else:
        raise RecordingRefused(
            f"recording path {stored} is outside CALLCENTRE_RECORDINGS_PBX_DIR ({pbx_dir}) "
            f"and CALLCENTRE_RECORDINGS_DIR ({recordings_dirs[0]}): refused; set "
            "CALLCENTRE_RECORDINGS_PBX_DIR to the directory the PBX records into"
        )
    if not subpath.parts:
        raise RecordingRefused(f"recording path {stored} names a directory, not a file: refused")
    return subpath
