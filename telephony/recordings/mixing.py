"""Both legs of a call in one mono file, for the QA player when the PBX wrote no mixed
recording: the legs are recorded side by side from the same moment at the same rate, as WAV
or (once compressed, `telephony.recordings.opus`) Ogg Opus, and are added sample by sample.

The mix is written as WAV: it is made while a reviewer waits, and PCM is written at once
where encoding Opus would take seconds for a long call."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile

from telephony.recordings.opus import read_samples


class MixError(Exception):
    """The legs cannot be mixed (different rates, unreadable); says which."""


def mix(first: Path, second: Path, target: Path) -> None:
    """Write `target` (atomically) as the sum of the two legs, mono, clipped to 16 bits."""
    try:
        (a, rate_a), (b, rate_b) = read_samples(first), read_samples(second)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise MixError(f"the legs {first.name} and {second.name} cannot be read: {exc}") from None
    if rate_a != rate_b:
        raise MixError(f"the legs' rates differ ({rate_a} Hz and {rate_b} Hz)")
    left = a.astype(np.int32).sum(axis=1)
    right = b.astype(np.int32).sum(axis=1)
    if len(left) < len(right):
        left, right = right, left
    mixed = left.copy()
    mixed[: len(right)] += right
    samples = np.clip(mixed, -32768, 32767).astype(np.int16)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A file of its own for each mix: the player asks for several ranges at once, and two
    # requests mixing into one shared name would overwrite or rename each other's file.
    handle, partial_name = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    partial = Path(partial_name)
    try:
        with os.fdopen(handle, "wb") as raw:
            soundfile.write(raw, samples, rate_a, subtype="PCM_16", format="WAV")
        partial.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


MIX_KEPT_SECONDS = 24 * 3600.0


def prune_mixes(
    directory: Path, *, keep: Path, now: datetime, older_than: float = MIX_KEPT_SECONDS
) -> int:
    """Remove mixes made more than a day before `now` (a retained or erased call's voice must
    not outlive its legs here); how many. `keep`: the mix just made."""
    removed = 0
    horizon = now.timestamp() - older_than
    for path in directory.glob("*.wav"):
        with contextlib.suppress(OSError):
            if path != keep and path.stat().st_mtime < horizon:
                path.unlink()
                removed += 1
    return removed
