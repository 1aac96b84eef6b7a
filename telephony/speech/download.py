"""Fetching the official Mandarin Vosk models, verified, unpacked all-or-nothing.

The small model's size and SHA-256 are recorded below (as published alike by several
independent projects that pin this archive; alphacephei.com itself publishes no checksums).
For the large model no checksum could be established, so only its unpacked structure is
verified (`am/final.mdl`, `conf/model.conf`, `graph/`), and the command says so.

Nothing is left half-written: the archive is downloaded to a hidden `.part` file, unpacked
into a hidden directory beside the target, checked, and only then renamed into place; every
failure removes both.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from telephony.speech.model_dir import model_problems

OFFICIAL_BASE_URL = "https://alphacephei.com/vosk/models"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class OfficialModel:
    key: str  # what `callcentre models download` takes
    name: str  # the archive's (and the unpacked directory's) name
    about: str
    size: int | None = None  # bytes of the zip, when recorded
    sha256: str | None = None  # of the zip, when recorded

    def url(self, base_url: str = OFFICIAL_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.name}.zip"


OFFICIAL_MODELS = {
    model.key: model
    for model in (
        OfficialModel(
            "cn-small",
            "vosk-model-small-cn-0.22",
            "small Mandarin model, 42 MB, about 300 MB of memory per worker",
            size=43_898_754,
            sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
        ),
        OfficialModel(
            "cn",
            "vosk-model-cn-0.22",
            "large Mandarin server model, 1.3 GB, several GB of memory per worker",
        ),
    )
}

Progress = Callable[[int, int | None], None]  # (bytes so far, total or None)


class DownloadError(Exception):
    """The model could not be fetched or is not what was expected; nothing was installed."""


def download_model(
    model: OfficialModel,
    directory: Path,
    *,
    base_url: str = OFFICIAL_BASE_URL,
    timeout: float = 30.0,
    progress: Progress | None = None,
) -> Path:
    """Fetch, verify and unpack `model` into `directory`; the model's directory."""
    target = directory / model.name
    if target.exists():
        if not model_problems(target):
            return target
        raise DownloadError(f"{target} exists but is not a complete model; remove it and retry")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / f".{model.name}.zip.part"
    try:
        _fetch(model.url(base_url), archive, timeout=timeout, progress=progress)
        verify_archive(archive, size=model.size, sha256=model.sha256)
        return install_archive(archive, model.name, directory)
    except BaseException:
        archive.unlink(missing_ok=True)
        if created:
            with contextlib.suppress(OSError):  # only if still empty
                directory.rmdir()
        raise
    finally:
        archive.unlink(missing_ok=True)


def _fetch(url: str, destination: Path, *, timeout: float, progress: Progress | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "callcentre-model-download"})
    try:
        with (
            urllib.request.urlopen(request, timeout=timeout) as response,
            destination.open("wb") as out,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise DownloadError(
            f"cannot download {url}: the server answered {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(
            f"cannot download {url}: {reason}. Without internet access here, download the "
            f"zip on another machine and unpack it into the model directory, or use --mirror "
            f"with a server that has it"
        ) from None


def verify_archive(archive: Path, *, size: int | None, sha256: str | None) -> None:
    """Check the zip against the recorded size and SHA-256 (each when known)."""
    actual_size = archive.stat().st_size
    if size is not None and actual_size != size:
        raise DownloadError(
            f"{archive.name}: {actual_size:,} bytes, expected {size:,} "
            f"(incomplete or altered download)"
        )
    if sha256 is not None:
        digest = hashlib.sha256()
        with archive.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise DownloadError(
                f"{archive.name}: SHA-256 {digest.hexdigest()}, expected "
                f"{sha256} (corrupted or altered download)"
            )


def install_archive(archive: Path, name: str, directory: Path) -> Path:
    """Unpack a model zip into `directory/name`, checked to be a Vosk model, atomically."""
    target = directory / name
    staging = directory / f".{name}.unpacking-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        try:
            with zipfile.ZipFile(archive) as zipped:
                members = zipped.namelist()
                _refuse_escapes(members)
                zipped.extractall(staging)
        except zipfile.BadZipFile:
            raise DownloadError(f"{archive.name}: not a zip archive") from None
        root = _model_root(staging, members)
        problems = model_problems(root)
        if problems:
            raise DownloadError(
                f"{archive.name} does not hold a Vosk model: {problems[0].split(': ', 1)[-1]}"
            )
        if target.exists():
            raise DownloadError(f"{target} appeared while unpacking; not replacing it")
        root.rename(target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _refuse_escapes(members: list[str]) -> None:
    for member in members:
        path = PurePosixPath(member)
        if path.is_absolute() or ".." in path.parts:
            raise DownloadError(f"the archive holds an unsafe path {member!r}; not unpacking")


def _model_root(staging: Path, members: list[str]) -> Path:
    """The official zips hold one top directory (the model's name); accept a bare one too."""
    tops = {PurePosixPath(m).parts[0] for m in members if PurePosixPath(m).parts}
    if len(tops) == 1 and (staging / next(iter(tops))).is_dir():
        return staging / next(iter(tops))
    return staging
