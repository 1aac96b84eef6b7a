"""Who the client is behind a reverse proxy: `X-Forwarded-For` and `X-Forwarded-Proto` are
believed only from the proxies named in `CALLCENTRE_TRUSTED_PROXIES`.

The client's address decides login throttling (web/auth.py) and is written to the audit log;
a header any client could send must not decide it. uvicorn's own handling, which trusts
127.0.0.1 unless told otherwise, is turned off (web/server.py) so this is the only one, and it
works the same under any ASGI server and in the tests.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class TrustedProxies:
    """The peer's address stays the client's unless the peer is a trusted proxy; then the
    right-most address in `X-Forwarded-For` that is not itself a trusted proxy is the client
    (a client cannot push its own forged entry past the proxy that appends the real one)."""

    def __init__(self, app: ASGIApp, *, proxies: list[str]) -> None:
        self.app = app
        self._forwarded = (
            ProxyHeadersMiddleware(app, trusted_hosts=proxies)  # type: ignore[arg-type]
            if proxies
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._forwarded is None:
            await self.app(scope, receive, send)
        else:
            await self._forwarded(scope, receive, send)  # type: ignore[arg-type]
