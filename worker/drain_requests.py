"""At most one waiting drain of webhook events, however fast events arrive.

Each webhook POST would otherwise send one job per event, and at a few hundred events a second
the jobs' own overhead (a queue round trip and several transactions each) outgrows the work.
Instead the first event asks for a drain and the ones after it see that a drain is already
waiting, which will apply them too. The drain takes the request back as it starts, *before* it
reads the waiting events, so an event recorded after that read always sends a new request: no
event is left without a drain on its way. The queue is only a wake-up call; the
`webhook_events` rows stay the record of what is left to do, and the reconciler re-sends any
event left waiting longer than a lease.
"""

from __future__ import annotations

import threading

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from strideguard.worker.ports import DrainRequests

# A request whose drain message was lost while the flag survived (both live in Redis, so this
# takes a crash between the two writes) expires after this long, and the next event asks again.
REQUEST_TTL_MS = 60_000


class RedisDrainRequests:
    """The flag every web and worker process on one Redis shares."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._client = client
        self._key = key

    def request(self) -> bool:
        return bool(self._client.set(self._key, 1, nx=True, px=REQUEST_TTL_MS))

    def started(self) -> None:
        self._client.delete(self._key)


class MemoryDrainRequests:
    """The embedded default: web routes and worker threads share one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting = False

    def request(self) -> bool:
        with self._lock:
            if self._waiting:
                return False
            self._waiting = True
            return True

    def started(self) -> None:
        with self._lock:
            self._waiting = False


def make_drain_requests(broker: dramatiq.Broker) -> DrainRequests:
    """The flag on the broker's own Redis, under its namespace; in memory without Redis."""
    if isinstance(broker, RedisBroker):
        return RedisDrainRequests(broker.client, f"{broker.namespace}:webhook-drain-requested")
    return MemoryDrainRequests()
