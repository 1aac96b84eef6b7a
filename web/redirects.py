"""Where a page may send the browser after login (`/login?next=…`): only a path on this site.

A prefix check is not enough: browsers drop tabs and newlines from URLs and read `\\` as `/`,
so `/\\t/evil.example/` passes "starts with one slash" and still leaves the site. The value is
refused unless it is, raw and percent-decoded alike, a plain absolute path that parses with
no scheme and no host, and its path stays so once percent-decoded.
"""

from __future__ import annotations

from urllib.parse import unquote, urljoin, urlsplit

HOME = "/"
MAX_LENGTH = 2048
_PROBE_BASE = "http://site.invalid/"


def _plain(text: str) -> bool:
    return not any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in text)


def _same_origin_path(text: str) -> bool:
    if not text.startswith("/") or text.startswith("//") or not _plain(text):
        return False
    parts = urlsplit(text)
    if parts.scheme or parts.netloc:
        return False
    resolved = urlsplit(urljoin(_PROBE_BASE, text))
    # `/a/..//evil` resolves to the path `//evil`: a script copying that path would leave.
    return resolved.netloc == "site.invalid" and not resolved.path.startswith("//")


def safe_next(value: str | None, default: str = HOME) -> str:
    """`value` when it is a path on this site, else `default`."""
    if not value or len(value) > MAX_LENGTH:
        return default
    if not _same_origin_path(value):
        return default
    # Its path once more percent-decoded (a proxy or a second decoding on the way): still
    # plain. The query may hold anything encoded; it cannot change the origin.
    path = unquote(urlsplit(value).path)
    return value if _same_origin_path(path) else default
