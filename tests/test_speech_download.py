"""`callcentre models download`: the official models' catalogue, the error path with no
network, and verify-then-unpack on archives built here (served from 127.0.0.1 only)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from telephony.speech.download import (
    OFFICIAL_MODELS,
    DownloadError,
    download_model,
    install_archive,
    verify_archive,
)
from telephony.speech.model_dir import model_problems

ROOT = Path(__file__).resolve().parents[1]
MODEL_FILES = {
    "am/final.mdl": b"acoustic",
    "conf/model.conf": b"--beam=10\n",
    "conf/mfcc.conf": b"",
    "graph/HCLr.fst": b"fst",
    "graph/Gr.fst": b"fst",
    "ivector/final.ie": b"ie",
    "README": b"test model\n",
}


def build_zip(path: Path, files: dict[str, bytes], top: str | None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{top}/{name}" if top else name, data)
    return path


def listing(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "web.cli", "models", "download", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        env=os.environ.copy(),
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Nothing on stderr for each request."""


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A model server on 127.0.0.1 serving the zips put in its directory."""
    served = tmp_path / "mirror" / "vosk"
    served.mkdir(parents=True)
    handler = functools.partial(_QuietHandler, directory=str(served.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/vosk", served
    finally:
        server.shutdown()
        server.server_close()


def test_the_catalogue_is_the_official_mandarin_models() -> None:
    small, large = OFFICIAL_MODELS["cn-small"], OFFICIAL_MODELS["cn"]
    assert small.url() == "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"
    assert large.url() == "https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip"
    assert small.size == 43_898_754 and small.sha256 is not None and len(small.sha256) == 64
    assert large.sha256 is None  # no checksum could be established: structure is verified


def test_unreachable_host_fails_clearly_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "models"
    url = f"http://127.0.0.1:{closed_port()}"
    result = cli("cn-small", "--dir", str(target), "--mirror", url)
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"Error: cannot download {url}/vosk-model-small-cn-0.22.zip"
        ": [Errno 111] Connection refused. Without internet access"
    )
    assert "Traceback" not in result.stderr
    assert not target.exists()

    target.mkdir()  # a directory that already holds other models keeps only those
    (target / "other-model").mkdir()
    assert cli("cn", "--dir", str(target), "--mirror", url).returncode == 1
    assert listing(target) == ["other-model"]


def test_a_model_is_fetched_verified_and_unpacked(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, served = mirror
    build_zip(served / "vosk-model-cn-0.22.zip", MODEL_FILES, top="vosk-model-cn-0.22")
    target = tmp_path / "models"
    result = cli("cn", "--dir", str(target), "--mirror", url)
    assert result.returncode == 0, result.stderr
    installed = target / "vosk-model-cn-0.22"
    assert result.stdout.splitlines()[-1] == f"CALLCENTRE_VOSK_MODEL_PATH={installed.resolve()}"
    assert "no checksum is recorded for vosk-model-cn-0.22" in result.stderr
    assert model_problems(installed) == []
    assert listing(target) == [
        "vosk-model-cn-0.22",
        *(
            f"vosk-model-cn-0.22/{name}"
            for name in sorted({*MODEL_FILES, "am", "conf", "graph", "ivector"})
        ),
    ]
    assert cli("cn", "--dir", str(target), "--mirror", url).returncode == 0  # already there


def test_a_download_not_matching_the_recorded_checksum_is_refused(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    url, served = mirror
    build_zip(served / "vosk-model-small-cn-0.22.zip", MODEL_FILES, top="vosk-model-small-cn-0.22")
    target = tmp_path / "models"
    result = cli("cn-small", "--dir", str(target), "--mirror", url)
    assert result.returncode == 1
    assert "vosk-model-small-cn-0.22.zip.part: " in result.stderr
    assert "expected 43,898,754 (incomplete or altered download)" in result.stderr
    assert not target.exists()


def test_a_missing_file_on_the_server_is_reported(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, _served = mirror
    result = cli("cn", "--dir", str(tmp_path / "models"), "--mirror", url)
    assert result.returncode == 1
    assert f"cannot download {url}/vosk-model-cn-0.22.zip: the server answered 404" in result.stderr


def test_verify_checks_size_and_sha256(tmp_path: Path) -> None:
    archive = build_zip(tmp_path / "m.zip", MODEL_FILES, top="m")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    size = archive.stat().st_size
    verify_archive(archive, size=size, sha256=digest)
    verify_archive(archive, size=None, sha256=None)
    with pytest.raises(DownloadError, match=rf"m\.zip: {size - 1:,} bytes, expected {size:,}"):
        archive.write_bytes(archive.read_bytes()[:-1])
        verify_archive(archive, size=size, sha256=None)
    with pytest.raises(DownloadError, match=rf"SHA-256 [0-9a-f]{{64}}, expected {digest}"):
        verify_archive(archive, size=None, sha256=digest)


@pytest.mark.parametrize("top", ["vosk-model-small-cn-0.22", None])
def test_unpacking_checks_the_structure(tmp_path: Path, top: str | None) -> None:
    archive = build_zip(tmp_path / "model.zip", MODEL_FILES, top=top)
    target = tmp_path / "models"
    target.mkdir()
    installed = install_archive(archive, "vosk-model-small-cn-0.22", target)
    assert installed == target / "vosk-model-small-cn-0.22"
    assert (installed / "am" / "final.mdl").read_bytes() == b"acoustic"
    assert listing(target)[0] == "vosk-model-small-cn-0.22"  # no staging left behind


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {k: v for k, v in MODEL_FILES.items() if k != "am/final.mdl"},
            "does not hold a Vosk model: am/final.mdl missing",
        ),
        (
            {"README": b"x", "conf/model.conf": b""},
            "does not hold a Vosk model: am/final.mdl, graph/ missing",
        ),
        ({**MODEL_FILES, "../../escape.txt": b"x"}, "unsafe path"),
    ],
)
def test_a_bad_archive_leaves_nothing_behind(
    tmp_path: Path, files: dict[str, bytes], expected: str
) -> None:
    archive = build_zip(tmp_path / "model.zip", files, top=None)
    target = tmp_path / "models"
    target.mkdir()
    with pytest.raises(DownloadError, match=expected):
        install_archive(archive, "vosk-model-cn-0.22", target)
    assert listing(target) == []
    assert not (tmp_path / "escape.txt").exists()


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    archive.write_text("<html>mirror error page</html>")
    with pytest.raises(DownloadError, match=r"model\.zip: not a zip archive"):
        install_archive(archive, "vosk-model-cn-0.22", tmp_path)


def test_an_incomplete_model_directory_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "vosk-model-cn-0.22" / "am").mkdir(parents=True)
    with pytest.raises(DownloadError, match="exists but is not a complete model; remove it"):
        download_model(OFFICIAL_MODELS["cn"], tmp_path, base_url="http://127.0.0.1:9")
