"""Which queue carries our jobs: Redis when configured, otherwise an in-process queue.

The choice is made by `make_broker(settings)` at start-up, never at import, so the same code
serves the embedded default (dramatiq's StubBroker drained by worker threads in the web
process) and production (a RedisBroker shared by worker processes).

The Redis broker is tuned for recovery after a crash: dramatiq returns a dead worker's
in-flight messages only once its heartbeat is older than `heartbeat_timeout` *and* a random
maintenance pass happens on that queue, which measured 79 s to 828 s with the defaults. We
shorten the first and make the second frequent. The DB-driven reconciler (worker/reconciler.py)
still makes recovery certain: the queue only makes work happen sooner.
"""

from __future__ import annotations

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from strideguard.settings import Settings

# A worker process whose heartbeat is older than this is presumed dead (dramatiq: 60 s).
HEARTBEAT_TIMEOUT_MS = 15_000
# Commands per million that run queue maintenance (dramatiq: 1,000, i.e. 0.1 %); 5 % keeps the
# extra Redis work negligible while making the return of a dead worker's messages prompt.
MAINTENANCE_CHANCE = 50_000


class BrokerError(Exception):
    """The configured queue cannot be used; the message says what to check."""


def make_broker(settings: Settings) -> dramatiq.Broker:
    """A broker for `settings`: RedisBroker with REDIS_URL, an in-process StubBroker without.

    Redis is pinged here so that a wrong REDIS_URL stops start-up with one line instead of
    failing on the first enqueue.
    """
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(  # type: ignore[no-untyped-call]
            url=settings.redis_url,
            namespace=settings.queue_namespace,
            heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=MAINTENANCE_CHANCE,
        )
        try:
            broker.client.ping()
        except redis.RedisError as exc:
            raise BrokerError(
                f"cannot reach Redis at {_mask(settings.redis_url)}: {exc}. "
                "Check REDIS_URL and that the server is running."
            ) from None
    else:
        broker = StubBroker()
    # Lets actors log the dramatiq message id as job_id.
    broker.add_middleware(CurrentMessage())
    return broker


def _mask(url: str) -> str:
    """The Redis URL without its password, for error messages."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
