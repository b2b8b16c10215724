"""`Simulator`: the simulated Strava running as a real HTTP server on loopback."""

from __future__ import annotations

import threading
from types import TracebackType

from strideguard.integrations.strava.simulator.app import StravaApp
from strideguard.integrations.strava.simulator.server import SimServer


class Simulator(StravaApp):
    """Start with `start()` (or `with Simulator(...) as sim:`); point stravalib at `base_url`."""

    _server: SimServer | None = None
    _thread: threading.Thread | None = None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a background thread on `port` (0 = any free port); returns the base URL."""
        if self._server is not None:
            return self.base_url
        self.stopping.clear()
        self._server = SimServer((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="strava-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve in the calling thread (the CLI); returns on KeyboardInterrupt or stop()."""
        self.start(host, port)
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        self.stopping.set()  # release requests held by timeout_next
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._webhooks.stop()

    def __enter__(self) -> Simulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
