"""The server's own log lines never carry a query string's values: uvicorn prints the path of
every websocket it accepts or refuses (and of every request, when its access log is on) with
the query, and a client that puts a credential there (`/ws?token=…`, refused since) would have
it written to the log for as long as the token lives. Parameter names stay, for debugging.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl

UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")
REDACTED = "…"


# An absolute URL's start: what an HTTP client (httpx) logs for each request it makes.
_ABSOLUTE = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s/?#]*(/[^\s?#]*)?$", re.IGNORECASE)


def redact_query(text: str) -> str:
    """`/ws?token=abc&since=3` → `/ws?token=…&since=…` (a path or an absolute URL); anything
    without a query as it is."""
    path, mark, query = text.partition("?")
    if not mark or not (path.startswith("/") or _ABSOLUTE.match(path)):
        return text
    names = [name for name, _ in parse_qsl(query, keep_blank_values=True)]
    if not names:
        return f"{path}?{REDACTED}" if query else path
    return f"{path}?" + "&".join(f"{name[:40]}={REDACTED}" for name in names)


def _redacted(arg: object) -> object:
    if isinstance(arg, str):
        return redact_query(arg)
    if type(arg).__name__ == "URL":  # httpx's, starlette's: logged as objects, printed as text
        text = str(arg)
        redacted = redact_query(text)
        return arg if redacted == text else redacted
    return arg


class QueryRedaction(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redacted(arg) for arg in record.args)
        return True


def install() -> None:
    """Redact uvicorn's lines (idempotent: one filter per logger)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryRedaction) for f in logger.filters):
            logger.addFilter(QueryRedaction())
