"""A webhook endpoint for Strava's (the simulator's) callback check and event posts.

Shared by the simulator's own webhook tests and by `strava subscribe`'s: both need a callback
that can echo the challenge, echo it wrong, answer late, or fail posts, on demand.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Receiver:
    """Echoes (or not) the challenge, late by `check_delays` in turn, fails the first N posts."""

    def __init__(self) -> None:
        self.echo = True
        # seconds to wait before answering each callback check, in order; then at once
        self.check_delays: list[float] = []
        self.fail_posts = 0
        self.events: list[dict[str, Any]] = []
        self.validations: list[dict[str, list[str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                receiver.validations.append(query)
                if receiver.check_delays:
                    time.sleep(receiver.check_delays.pop(0))
                challenge = query["hub.challenge"][0] if receiver.echo else "wrong"
                self._answer(200, {"hub.challenge": challenge})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.events.append(json.loads(body))
                if receiver.fail_posts > 0:
                    receiver.fail_posts -= 1
                    self._answer(500, {})
                else:
                    self._answer(200, {})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(OSError):  # a late answer: Strava stopped waiting
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base_url}/strava/webhook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
