"""Text a request brings must be storable: PostgreSQL's text cannot hold U+0000 (NUL), which
nobody types, so a NUL in a query parameter or anywhere in a JSON body is refused at the door
with a 422 naming the field, for every route at once (it was a 500 from the database, found
by the API fuzzer on a login's username). Bodies are at most CALLCENTRE_MAX_BODY_BYTES
(web/body_limit.py, the outer middleware) when they are read here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL = "\x00"
PROBLEM = {"code": "nul_character", "message": "text cannot contain the NUL character (U+0000)"}


def _paths(value: Any, path: str = "") -> Iterator[str]:
    """Where in a JSON document a NUL is: `name`, `phones[0]`, `satisfaction.crew` …"""
    if isinstance(value, str):
        if NUL in value:
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                yield inner
            yield from _paths(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, f"{path}[{index}]")


def nul_in_query(query_string: bytes) -> str | None:
    """The first query parameter holding a NUL (in its name or value), if any."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="replace")
    return next((name for name, value in pairs if NUL in name or NUL in value), None)


def nul_in_json(body: bytes) -> str | None:
    """The first field of a JSON body holding a NUL; None when there is none (or the body is
    not JSON: the route's own validation says so)."""
    if b"\\u0000" not in body and b"\x00" not in body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return next(_paths(document), None)


async def _refuse(send: Send, field: str | None) -> None:
    body = json.dumps({"detail": [{"field": field or None, **PROBLEM}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class NoNulText:
    """The ASGI middleware: queries checked at once, JSON bodies read (then handed on)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        field = nul_in_query(scope.get("query_string", b""))
        if field is not None:
            await _refuse(send, field)
            return
        headers = dict(scope.get("headers", ()))
        if b"json" not in headers.get(b"content-type", b""):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        field = nul_in_json(body)
        if field is not None:
            await _refuse(send, field)
            return
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)
