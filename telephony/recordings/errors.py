"""Why a recording cannot be read, in terms an operator can act on."""

from __future__ import annotations


class RecordingError(Exception):
    """A call's recording cannot be read here; the message says which and why."""


class RecordingRefused(RecordingError):
    """The PBX reported a path this server never reads (`..`, or outside the recordings
    directories): a misconfiguration or a forged value, never served."""


class RecordingNotFound(RecordingError):
    """Not here, and not on the PBX (yet): the PBX may still be writing it. Worth retrying."""


class RecordingFetchError(RecordingError):
    """The PBX could not be asked (unreachable, refused the credentials, too slow, file too
    large). Worth retrying once the cause is fixed."""


class RecordingUnreadable(RecordingError):
    """The file is here but this process cannot read it (permissions, a broken mount)."""
