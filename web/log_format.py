"""How the `callcentre` command's processes write their log: text lines for a terminal, or
(`CALLCENTRE_LOG_FORMAT=json`) one JSON object per line for a log collector. Either way every
line passes the redaction of web/log_redaction.py (query values, customers' phone numbers)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from web import log_redaction
from web.log_redaction import LogRedaction

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# uvicorn's logging configuration when the lines are JSON: no handlers of its own, its lines
# go up to the root logger's (uvicorn's default gives them their own text handler).
UVICORN_TO_ROOT: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        name: {"handlers": [], "propagate": True}
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
    },
}


class JsonLines(logging.Formatter):
    """`{"time", "level", "logger", "message"[, "exception"]}` on one line; the message is the
    record's own, formatted after the redaction filter has seen its arguments."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:  # the redacted text, when the record was redacted
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure(
    *, verbose: bool = False, log_format: str = "text", stream: IO[str] | None = None
) -> logging.Handler:
    """Send the root logger's lines to `stream` (stderr) in `log_format`; the handler, whose
    filter redacts query values in whatever reaches it (uvicorn's lines included, which a
    JSON-logging server lets propagate here: see web/server.py)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, datefmt="%H:%M:%S"))
    handler.addFilter(LogRedaction())
    log_redaction.install()
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "callcentre", False)]:
        root.removeHandler(old)
    handler.callcentre = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    return handler
