"""The server's own log lines never carry a query string's values nor a customer's phone
number. uvicorn prints the path of every websocket it accepts or refuses (and of every
request, when its access log is on) with the query, and a client that puts a credential
there (`/ws?token=…`, refused since) would have it written to the log for as long as the
token lives; parameter names stay, for debugging. Phone numbers (PIPL) are masked wherever
they appear — message, arguments, SQL parameters, a traceback — by web/log_phones.py.

Where it applies: every record as it is made (a record factory, so no handler — uvicorn's
own text handlers, the JSON handler, anything a library adds — ever sees the raw text), and
again as a filter on the `callcentre` handler and uvicorn's loggers for records built
elsewhere (`logging.makeLogRecord`). Redacting twice changes nothing.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from web.log_phones import mask_phones

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
        return mask_phones(redact_query(arg))
    if type(arg).__name__ == "URL":  # httpx's, starlette's: logged as objects, printed as text
        text = str(arg)
        redacted = mask_phones(redact_query(text))
        return arg if redacted == text else redacted
    return arg


def redact_record(record: logging.LogRecord) -> None:
    """Query values and phone numbers out of `record`, in place. Arguments are redacted one
    by one (formatters such as uvicorn's access log read them by position); a number left in
    what they print (a tuple of SQL parameters, an object's repr) makes the record carry its
    masked message instead."""
    if isinstance(record.args, tuple) and record.args:
        record.args = tuple(_redacted(arg) for arg in record.args)
    if isinstance(record.msg, str):
        record.msg = mask_phones(record.msg)
    if record.args:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the handler reports it when formatting
            return
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, ()
    if record.exc_info and not record.exc_text:
        # Formatters use the text already made (logging.Formatter.format).
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = mask_phones(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_phones(record.stack_info)


class LogRedaction(logging.Filter):
    """Redacts each record passing a handler or logger (see redact_record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


RecordFactory = Callable[..., logging.LogRecord]


class _RedactingFactory:
    """The record factory: the one before it makes the record, then it is redacted."""

    def __init__(self, made_by: RecordFactory) -> None:
        self.made_by = made_by

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.made_by(*args, **kwargs)
        redact_record(record)
        return record


def install() -> None:
    """Redact every record this process makes, and uvicorn's lines (idempotent)."""
    factory = logging.getLogRecordFactory()
    if not isinstance(factory, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(factory))
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, LogRedaction) for f in logger.filters):
            logger.addFilter(LogRedaction())
