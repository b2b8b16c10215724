"""Safe default response headers for every page the app serves.

Connect, callback, admin and email-link pages all carry secrets in URLs or forms at some point,
so none of them may be framed (clickjacking), leak their URL in a Referer, be sniffed into
another content type, or be kept by a browser or proxy cache (a stored page would hand its
reusable form token to the next person at that computer). No page here is worth caching, so
`no-store` is the default rather than a header each token-carrying route must remember. Routes
that set their own value for a header keep it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Styles come from the app's own stylesheet (/static/style.css) or inline (emails viewed as sent).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
)


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task switch, so webhook latency is untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in DEFAULT_HEADERS if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
