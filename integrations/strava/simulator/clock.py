"""The simulator's notion of "now", which tests can move.

Token expiry, authorization-code expiry and the rate-limit windows all read this clock, so a
test can cross a 15-minute boundary or age a token by six hours without waiting.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SimClock:
    """A UTC clock that either follows real time from a chosen point (`ticking`) or stands still.

    A ticking clock is what a demo wants (tokens age while you watch); a frozen one is what a
    test wants when it checks a boundary to the second.
    """

    def __init__(self, start: datetime | None = None, *, ticking: bool = True) -> None:
        self._lock = threading.Lock()
        self._ticking = ticking
        start_s = time.time() if start is None else _epoch(start)
        # ticking: now = real time + offset; frozen: now = offset
        self._offset = start_s - time.time() if ticking else start_s

    def time(self) -> float:
        """Seconds since the epoch, like `time.time()`."""
        with self._lock:
            return self._offset + time.time() if self._ticking else self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (aware; a naive value is read as UTC)."""
        target = _epoch(moment)
        with self._lock:
            self._offset = target - time.time() if self._ticking else target

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
