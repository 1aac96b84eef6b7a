"""Headers every response carries, so a browser refuses what the pages never do: run a script
or style from anywhere but this site, be framed, leak the URL to another site, or guess a
content type. The pages pass this policy as it is (no inline script or style; the JSON boot
block `<script type="application/json">` is data, which `script-src` does not govern).

A pure ASGI middleware: it only adds headers to `http.response.start`, so it costs nothing
on streamed bodies and leaves websockets alone.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # the page's empty favicon is a data: URL
        "connect-src 'self'",  # the API and /ws (CSP 3: 'self' covers ws:/wss: to this host)
        "media-src 'self'",  # recordings in the QA player
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
)
# Customers' data and pages holding a CSRF token are never kept by a shared cache or the
# browser's disk cache, unless the route chose otherwise.
NO_STORE = (b"cache-control", b"no-store")
HSTS = (b"strict-transport-security", b"max-age=31536000")


def _private(path: str) -> bool:
    return not path.startswith("/static/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(ALWAYS)
        if _private(scope.get("path", "")):
            extra.append(NO_STORE)
        if scope.get("scheme") == "https":
            extra.append(HSTS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
