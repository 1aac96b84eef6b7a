"""Fetching a recording from a PBX on another machine, whose recordings directory is served
read-only over HTTP(S) (e.g. nginx with basic auth, see asterisk-conf/README.md).

One GET per file, on first use: the file goes to a temporary name beside its place under the
server's recordings directory and is renamed into place only once complete, so a reader never
sees half a file and two processes fetching the same file at once both end with a whole one.
A WAV the PBX is still writing (`wav_header`) is not kept. No retries here: the caller's
own retries (the transcription job's attempts, the reviewer pressing play again) are the
right pace. Credentials never appear in URLs, messages or logs; redirects are not followed
(they would carry the credentials elsewhere); proxies from the environment are not used (the
PBX is on the call centre's own network).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import quote

from crm.clock import Clock
from telephony.recordings.errors import RecordingFetchError, RecordingNotFound
from telephony.recordings.wav_header import HEADER_BYTES, wav_unfinished

log = logging.getLogger(__name__)
_CHUNK = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 3xx becomes an HTTPError


class RecordingFetcher:
    """Copies one recording at a time from `base_url` (ending in /) into a local file."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Clock,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        max_bytes: int = 200 * 1024 * 1024,
        ca_file: Path | None = None,
    ) -> None:
        if not base_url.endswith("/"):
            raise ValueError("base_url must end with /")
        self.base_url, self.timeout, self.max_bytes = base_url, timeout, max_bytes
        self.clock = clock
        self._headers = {"User-Agent": "callcentre-recordings"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._ca_file = ca_file
        self._opener: urllib.request.OpenerDirector | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"RecordingFetcher({self.base_url!r})"

    def url_of(self, subpath: PurePosixPath) -> str:
        """The recording's address: each path segment percent-encoded under the base URL."""
        return self.base_url + "/".join(quote(part, safe="") for part in subpath.parts)

    def fetch(self, subpath: PurePosixPath, target: Path) -> int:
        """Download the recording at `subpath` into `target` (atomically); its size in bytes.
        RecordingNotFound when the PBX has no such file (yet), RecordingFetchError otherwise."""
        url = self.url_of(subpath)
        request = urllib.request.Request(url, headers=self._headers)
        try:
            with self._open(request) as response:
                size = self._save(response, url, target)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise self._refusal(exc.code, url) from None
        except urllib.error.URLError as exc:
            raise RecordingFetchError(self._unreachable(url, exc.reason)) from None
        except (TimeoutError, http.client.HTTPException, OSError) as exc:
            raise RecordingFetchError(self._unreachable(url, exc)) from None
        log.info("recording %s fetched from the PBX (%d bytes)", subpath, size)
        return size

    def _open(self, request: urllib.request.Request) -> http.client.HTTPResponse:
        if self._opener is None:
            handlers: list[urllib.request.BaseHandler] = [
                urllib.request.ProxyHandler({}),
                _NoRedirect(),
            ]
            if self._ca_file is not None:
                try:
                    context = ssl.create_default_context(cafile=str(self._ca_file))
                except (OSError, ssl.SSLError) as exc:
                    raise RecordingFetchError(
                        f"CALLCENTRE_RECORDINGS_FETCH_CA_FILE ({self._ca_file}) cannot be "
                        f"used: {exc}"
                    ) from None
                handlers.append(urllib.request.HTTPSHandler(context=context))
            self._opener = urllib.request.build_opener(*handlers)
        response = self._opener.open(request, timeout=self.timeout)
        return response

    def _save(self, response: http.client.HTTPResponse, url: str, target: Path) -> int:
        declared = response.headers.get("Content-Length")
        expected = int(declared) if declared and declared.isdigit() else None
        if expected is not None and expected > self.max_bytes:
            raise RecordingFetchError(self._too_large(url, expected))
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, partial_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        partial = Path(partial_name)
        try:
            with os.fdopen(handle, "wb") as out:
                size = self._copy(response, out, url)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and size != expected:
                raise RecordingFetchError(
                    f"recording at {url}: the transfer stopped after {size} of {expected} bytes"
                )
            with partial.open("rb") as written:
                header = written.read(HEADER_BYTES)
            if wav_unfinished(header, size):
                raise RecordingNotFound(
                    f"recording at {url} is still being recorded on the PBX (its WAV header "
                    "is not final yet); try again once the call has ended"
                )
            partial.chmod(0o640)
            partial.replace(target)
        except BaseException:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise
        return size

    def _copy(self, response: http.client.HTTPResponse, out: IO[bytes], url: str) -> int:
        deadline = self.clock.monotonic() + self.timeout
        size = 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > self.max_bytes:
                raise RecordingFetchError(self._too_large(url, size))
            if self.clock.monotonic() > deadline:
                raise RecordingFetchError(
                    f"recording at {url} took longer than {self.timeout:g} s to fetch "
                    "(CALLCENTRE_RECORDINGS_FETCH_TIMEOUT)"
                )
            out.write(chunk)
        return size

    def _too_large(self, url: str, size: int) -> str:
        return (
            f"recording at {url} is larger ({size} bytes or more) than "
            f"CALLCENTRE_RECORDINGS_FETCH_MAX_MB ({self.max_bytes // (1024 * 1024)} MB): refused"
        )

    @staticmethod
    def _refusal(status: int, url: str) -> RecordingNotFound | RecordingFetchError:
        if status in (404, 410):
            return RecordingNotFound(
                f"recording not on the PBX (HTTP {status} from {url}); it may not be written "
                "yet, or the PBX's web server does not serve that directory"
            )
        if status in (401, 403):
            return RecordingFetchError(
                f"the PBX refused access to {url} (HTTP {status}): check "
                "CALLCENTRE_RECORDINGS_FETCH_USER / _PASSWORD and the web server's rules"
            )
        if 300 <= status < 400:
            return RecordingFetchError(
                f"the PBX answered {url} with a redirect (HTTP {status}), not followed: set "
                "CALLCENTRE_RECORDINGS_FETCH_URL to the final address (https://, trailing /)"
            )
        return RecordingFetchError(f"the PBX answered HTTP {status} for {url}")

    @staticmethod
    def _unreachable(url: str, reason: object) -> str:
        hint = ""
        if isinstance(reason, ssl.SSLCertVerificationError):
            hint = (
                "; a self-signed certificate needs CALLCENTRE_RECORDINGS_FETCH_CA_FILE "
                "(the certificate or the CA that signed it)"
            )
        return f"recording at {url} could not be fetched: {reason}{hint}"
