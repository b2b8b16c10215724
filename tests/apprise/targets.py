"""A local HTTP service for Apprise's `json://` URLs: it keeps what it receives and answers
as each path says, so tests see exactly what a push service would get.

- `/ok/...` answers 200; `/down/...` 500 (until `recover()`); `/gone/...` 404;
- `/hang/...` holds the request until `release()` (or the client gives up).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    payload: dict[str, Any]


@dataclass
class Targets:
    port: int = 0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    hanging: threading.Event = field(default_factory=threading.Event)
    down: bool = True

    def url(self, path: str) -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def payloads(self, prefix: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.payload for r in self.received if r.path.startswith(prefix)]

    def recover(self) -> None:
        self.down = False

    def release(self) -> None:
        self.released.set()


def _handler(targets: Targets) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path.startswith("/hang"):
                targets.hanging.set()
                targets.released.wait(60)
            status = 200
            if self.path.startswith("/gone"):
                status = 404
            elif self.path.startswith("/down") and targets.down:
                status = 500
            if status == 200:
                with targets.lock:
                    targets.received.append(Received(self.path, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def serve_targets() -> Iterator[Targets]:
    targets = Targets()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(targets))
    server.daemon_threads = True
    targets.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield targets
    finally:
        targets.release()
        server.shutdown()
        server.server_close()
