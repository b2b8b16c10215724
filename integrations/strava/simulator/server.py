"""HTTP plumbing: turn each request into a `SimRequest` and write the `SimResponse` back."""

from __future__ import annotations

import base64
import json
import logging
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from strideguard.integrations.strava.simulator.app import SimRequest, StravaApp

log = logging.getLogger(__name__)


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512  # the benchmark opens hundreds of connections at once

    def __init__(self, address: tuple[str, int], app: StravaApp) -> None:
        self.app = app
        super().__init__(address, SimHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up early (its own timeout) is normal here, not a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        log.exception("simulator request from %s failed", client_address[0])


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    disable_nagle_algorithm = True  # headers and body leave at once: no 40 ms delayed-ACK stall
    server: SimServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: query strings carry codes and tokens, and 1,000 athletes are noisy."""

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        params = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if raw:
            for name, values in _body_params(raw, self.headers.get("Content-Type", "")).items():
                params.setdefault(name, []).extend(values)
        authorization = self.headers.get("Authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else None
        basic = _basic(authorization)
        app = self.server.app
        response = app.handle(SimRequest(method, split.path, params, bearer, basic))
        if response.hold_s:
            app.stopping.wait(response.hold_s)
            self.close_connection = True
            return
        if response.html is not None:
            payload, content_type = response.html.encode(), "text/html; charset=utf-8"
        elif response.body is None:
            payload, content_type = b"", "application/json; charset=utf-8"
        else:
            payload = json.dumps(response.body).encode()
            content_type = "application/json; charset=utf-8"
        self.send_response(response.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if response.location is not None:
            self.send_header("Location", response.location)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and method != "HEAD":
            self.wfile.write(payload)


def _basic(authorization: str) -> tuple[str, str] | None:
    """User and password of an HTTP Basic Authorization header, or None."""
    if not authorization.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(authorization[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


def _body_params(raw: bytes, content_type: str) -> dict[str, list[str]]:
    if "json" in content_type:
        try:
            decoded = json.loads(raw)
        except ValueError:
            return {}
        if not isinstance(decoded, dict):
            return {}
        return {str(k): [v if isinstance(v, str) else json.dumps(v)] for k, v in decoded.items()}
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
