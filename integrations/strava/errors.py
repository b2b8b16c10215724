"""What can go wrong when we talk to Strava, sorted by what the caller should do next.

The worker decides between "retry later", "defer to the next rate window" and "give up" from
the exception type alone, so every failure that leaves this package is one of these; each
derives from the pipeline's `SourceError` kinds (worker/ports.py), which say that.
"""

from __future__ import annotations

from strideguard.worker.ports import SourceDeferred, SourceDisconnected, SourceError


class StravaError(SourceError):
    """Base class; `retryable` tells a job runner whether trying again can help."""

    retryable = True


class BudgetExceeded(StravaError, SourceDeferred):
    """The shared rate budget is spent for this priority; defer by `retry_after_ms`.

    Not a failure: the job should re-enqueue itself with this delay (dramatiq `delay=`), not
    count an attempt and not sleep.
    """

    def __init__(
        self, retry_after_ms: int, *, reason: str = "rate budget spent", daily: bool = False
    ) -> None:
        super().__init__(f"{reason}; next window in {retry_after_ms} ms")
        self.retry_after_ms = retry_after_ms
        # The day's budget (not only this 15-minute window) is spent for this priority.
        self.daily = daily


class StravaUnavailable(StravaError):
    """Strava answered 5xx, timed out or could not be reached; retry with backoff."""


class NotConnected(StravaError, SourceDisconnected):
    """No Strava connection exists for the athlete (never connected, or disconnected)."""

    retryable = False


class ConnectionRevoked(StravaError, SourceDisconnected):
    """The athlete revoked access (refresh refused, or deauthorized); never retry."""

    retryable = False

    def __init__(self, athlete_id: int, reason: str = "access revoked") -> None:
        super().__init__(f"athlete {athlete_id}: Strava connection revoked ({reason})")
        self.athlete_id = athlete_id


class StravaRejected(StravaError):
    """Strava refused the request itself (4xx other than 401/404/429); retrying won't help."""

    retryable = False
