"""Slow down whoever keeps knocking on the webhook with the wrong secret or subscription id.

Guessing a subscription id (a small integer Strava hands out in sequence) took about a second
before; after `FAILURES_ALLOWED` refusals in a `WINDOW_S` window, a client address gets 429
until the window ends, so a guesser makes a handful of tries per ten minutes instead of
hundreds a second. Strava itself never fails these checks, so it is never slowed.

The count lives in Redis when REDIS_URL is set (every web process sees every refusal) and
in this process's memory in the embedded default, where there is only one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis

    from strideguard.settings import Settings

FAILURES_ALLOWED = 5
WINDOW_S = 600


class IntakeThrottle(Protocol):
    def blocked(self, client: str) -> bool:
        """True while `client` has used up its refusals for this window."""

    def refused(self, client: str) -> None:
        """Count one refused request from `client`."""


class MemoryThrottle:
    """One process: a count per client, all forgotten when the window rolls over (so a
    stream of fresh addresses cannot grow the table past one window's worth)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def _roll(self) -> None:
        window = int(self._clock() // WINDOW_S)
        if window != self._window:
            self._window = window
            self._counts = {}

    def blocked(self, client: str) -> bool:
        with self._lock:
            self._roll()
            return self._counts.get(client, 0) >= FAILURES_ALLOWED

    def refused(self, client: str) -> None:
        with self._lock:
            self._roll()
            self._counts[client] = self._counts.get(client, 0) + 1


class RedisThrottle:
    """Every web process on one Redis: one counter per client and window, expiring itself."""

    def __init__(
        self, client: redis.Redis, namespace: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = client
        self._ns = namespace
        self._clock = clock

    def _key(self, client: str) -> str:
        return f"{self._ns}:webhook-refusals:{int(self._clock() // WINDOW_S)}:{client}"

    def blocked(self, client: str) -> bool:
        count = self._redis.get(self._key(client))
        return count is not None and int(count) >= FAILURES_ALLOWED

    def refused(self, client: str) -> None:
        key = self._key(client)
        with self._redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S * 2)
            pipe.execute()


def make_throttle(settings: Settings) -> IntakeThrottle:
    """On the configured Redis under QUEUE_NAMESPACE, else in memory."""
    if settings.redis_url:
        import redis as redis_lib

        client = redis_lib.Redis.from_url(settings.redis_url)
        return RedisThrottle(client, settings.queue_namespace)
    return MemoryThrottle()
