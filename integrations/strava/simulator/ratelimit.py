"""Strava's per-application request counting: 15-minute and UTC-day windows, two limits.

Strava documents (developers.strava.com/docs/rate-limits): the 15-minute windows reset at :00,
:15, :30 and :45, the daily window at UTC midnight; a request over the limit gets 429 and
*still counts* (the docs' 429 example shows usage 692 against a limit of 600, and "requests
violating the short term limit will still count toward the long term limit"). The read
("non-upload") limit covers every endpoint except uploads and activity creation, which the
simulator does not serve, so every API request counts against both limits.
"""

from __future__ import annotations

from dataclasses import dataclass

from strideguard.integrations.strava.simulator import bodies

WINDOW_S = 15 * 60
DAY_S = 24 * 60 * 60


@dataclass(frozen=True)
class RateVerdict:
    headers: dict[str, str]
    exceeded_body: bodies.JsonBody | None  # None: the request may proceed


class RateCounter:
    """Counts requests per window. Not thread-safe on its own: the simulator holds its lock."""

    def __init__(self, read_limits: tuple[int, int], overall_limits: tuple[int, int]) -> None:
        self.read_limits = read_limits
        self.overall_limits = overall_limits
        self._window = -1
        self._day = -1
        self._read = [0, 0]
        self._overall = [0, 0]

    def _roll(self, now_s: float) -> None:
        window, day = int(now_s // WINDOW_S), int(now_s // DAY_S)
        if window != self._window:
            self._window = window
            self._read[0] = self._overall[0] = 0
        if day != self._day:
            self._day = day
            self._read[1] = self._overall[1] = 0

    def hit(self, now_s: float) -> RateVerdict:
        """Count one request at `now_s` and say whether it is over a limit."""
        self._roll(now_s)
        for i in (0, 1):
            self._read[i] += 1
            self._overall[i] += 1
        exceeded: bodies.JsonBody | None = None
        if any(self._overall[i] > self.overall_limits[i] for i in (0, 1)):
            exceeded = bodies.RATE_LIMIT_OVERALL
        elif any(self._read[i] > self.read_limits[i] for i in (0, 1)):
            exceeded = bodies.RATE_LIMIT_READ
        return RateVerdict(self.headers(), exceeded)

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": f"{self.overall_limits[0]},{self.overall_limits[1]}",
            "X-RateLimit-Usage": f"{self._overall[0]},{self._overall[1]}",
            "X-ReadRateLimit-Limit": f"{self.read_limits[0]},{self.read_limits[1]}",
            "X-ReadRateLimit-Usage": f"{self._read[0]},{self._read[1]}",
        }

    def usage(self, now_s: float) -> dict[str, int]:
        self._roll(now_s)
        return {
            "read_15min": self._read[0],
            "read_daily": self._read[1],
            "overall_15min": self._overall[0],
            "overall_daily": self._overall[1],
        }
