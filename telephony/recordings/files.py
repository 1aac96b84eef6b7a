"""The one place every reader of recordings (the transcription worker, the QA player and
download) turns a path the PBX reported into a readable file on this machine.

Found under the server's recordings directory at the sub-path `recording_subpath` decides
(see `telephony.recordings.paths` for the order and what is refused); when it is not there
and a fetch URL is configured, fetched from the PBX into that very place first, so the next
reader finds it like a copied or mounted file. The file is only ever read inside the
recordings directory, even through symbolic links, and a WAV still being written (a copy
taken mid-call by rsync or seen through a mount) is not handed out.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path, PurePosixPath

from crm.clock import Clock
from crm.settings import Settings
from telephony.recordings.errors import (
    RecordingError,
    RecordingNotFound,
    RecordingRefused,
    RecordingUnreadable,
)
from telephony.recordings.fetch import RecordingFetcher
from telephony.recordings.paths import recording_subpath
from telephony.recordings.wav_header import HEADER_BYTES, wav_unfinished

DEFAULT_PBX_DIR = "/var/spool/asterisk/monitor"
_LOCK_STRIPES = 64


class RecordingFiles:
    """Thread-safe; one per process is enough (concurrent readers of one file fetch it once)."""

    def __init__(
        self,
        directory: Path,
        *,
        pbx_dir: str = DEFAULT_PBX_DIR,
        fetcher: RecordingFetcher | None = None,
    ) -> None:
        self.directory = Path(directory).absolute()
        self.pbx_dir = PurePosixPath(pbx_dir)
        self.fetcher = fetcher
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    @classmethod
    def of(cls, settings: Settings, clock: Clock) -> RecordingFiles:
        fetcher = None
        if settings.recordings_fetch_url is not None:
            password = settings.recordings_fetch_password
            fetcher = RecordingFetcher(
                settings.recordings_fetch_url,
                clock=clock,
                user=settings.recordings_fetch_user,
                password=password.get_secret_value() if password is not None else None,
                timeout=settings.recordings_fetch_timeout,
                max_bytes=settings.recordings_fetch_max_mb * 1024 * 1024,
                ca_file=settings.recordings_fetch_ca_file,
            )
        return cls(settings.recordings_dir, pbx_dir=settings.recordings_pbx_dir, fetcher=fetcher)

    def subpath(self, stored: str) -> PurePosixPath:
        """Where under the recordings directory the stored path points; RecordingRefused."""
        spellings = (PurePosixPath(self.directory), PurePosixPath(self._root()))
        return recording_subpath(stored, pbx_dir=self.pbx_dir, recordings_dirs=spellings)

    def find(self, stored: str) -> Path:
        """The readable file, fetched first when missing and a fetch URL is configured.
        Blocking (run it in a thread from async code). Raises RecordingRefused,
        RecordingNotFound (worth retrying later), RecordingFetchError or RecordingUnreadable."""
        subpath = self.subpath(stored)
        local = self._inside(subpath)
        if local.is_file():
            return self._finished(local, stored)
        if self.fetcher is None:
            raise RecordingNotFound(
                f"recording {stored} not found (looked at {local}); the PBX's recordings "
                f"must be copied or mounted into CALLCENTRE_RECORDINGS_DIR ({self.directory}) "
                "or fetched from the PBX (CALLCENTRE_RECORDINGS_FETCH_URL)"
            )
        with self._locks[hash(subpath) % _LOCK_STRIPES]:
            if not local.is_file():  # another thread may have fetched it meanwhile
                self.fetcher.fetch(subpath, local)
        return self._inside(subpath)

    def remove(self, stored: str, *, with_copies: bool = True) -> bool:
        """Delete the file a stored path names here (never fetching it, never outside the
        recordings directory); False when it was already gone. Blocking. Raises
        RecordingRefused for a path this server never reads, RecordingUnreadable when the
        file cannot be removed. `with_copies`: a WAV's compressed copy goes too, should a
        compression have been under way (retention, erasure); the compression job itself
        removes the WAV alone, once the call names its copy."""
        local = self._inside(self.subpath(stored))
        copies = [local.with_suffix(".ogg")] if with_copies and local.suffix != ".ogg" else []
        for copy in copies:
            with contextlib.suppress(FileNotFoundError):
                self._unlink(copy, stored)
        try:
            self._unlink(local, stored)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _unlink(local: Path, stored: str) -> None:
        try:
            local.unlink()
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise RecordingUnreadable(
                f"recording {stored} cannot be deleted at {local}: {exc.strerror or exc}"
            ) from None

    def obtainable(self, stored: str | None) -> bool:
        """Whether `find` can be expected to succeed, without fetching: an acceptable path, and
        the file here or a PBX to fetch it from."""
        if not stored:
            return False
        try:
            local = self._inside(self.subpath(stored))
        except RecordingError:
            return False
        return self.fetcher is not None or local.is_file()

    @staticmethod
    def _finished(local: Path, stored: str) -> Path:
        """The file, unless it is a WAV still being recorded (or a copy taken meanwhile)."""
        try:
            with local.open("rb") as file:
                header = file.read(HEADER_BYTES)
            size = local.stat().st_size
        except OSError as exc:
            raise RecordingUnreadable(
                f"recording {stored} cannot be read at {local}: {exc.strerror or exc}"
            ) from None
        if wav_unfinished(header, size):
            raise RecordingNotFound(
                f"recording {stored} is still being written (its WAV header is not final "
                f"yet, at {local}); try again once the call has ended and the copy is complete"
            )
        return local

    def _root(self) -> Path:
        return self.directory.resolve()

    def _inside(self, subpath: PurePosixPath) -> Path:
        """The file's place, refused if a symbolic link leads it out of the directory."""
        root = self._root()
        local = self.directory / subpath
        if not local.resolve().is_relative_to(root):
            raise RecordingRefused(
                f"recording {subpath} leads outside CALLCENTRE_RECORDINGS_DIR ({root}) "
                "through a symbolic link: refused"
            )
        return local
