"""Request bodies over a limit are refused before they are buffered: at once from their
`Content-Length`, or, sent in chunks, as soon as the bytes received pass it. Without this a
300 MB login body was read, decoded and parsed whole before anyone looked at it.

One limit (`CALLCENTRE_MAX_BODY_BYTES`) fits every route but the spreadsheet upload
(`POST /api/imports`, `CALLCENTRE_MAX_IMPORT_BYTES`): `larger` maps such an exact path to its
own limit.
"""

from __future__ import annotations

import json
import logging

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from `receive` when the streamed body passes the limit; FastAPI's body reading
    lets an HTTPException through, so the client gets the 413 problem, not a 400."""

    def __init__(self, limit: int) -> None:
        self.problem = {
            "field": None,
            "code": "body_too_large",
            "message": f"the request body is larger than the limit of {limit} bytes",
            "params": {"limit": str(limit)},
        }
        super().__init__(413, [self.problem])


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses such a request itself
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": [BodyTooLarge(limit).problem]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            log.info("refused a %d-byte body to %s", declared, scope.get("path", "?"))
            await _refuse(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if started:
                raise
            log.info("refused a streamed body over %d bytes to %s", limit, scope.get("path", "?"))
            await _refuse(send, limit)
