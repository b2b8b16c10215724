"""How much work waits in each queue, for the admin view.

dramatiq has no portable "queue length" call, so this reads each broker's own bookkeeping:
Redis keeps every unacknowledged message of a queue in a `<namespace>:<queue>.msgs` hash (and
delayed and dead-lettered ones in `.DQ.msgs` and `.XQ.msgs`); the in-process StubBroker keeps
Python queues.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name, xq_name


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    waiting: int  # ready or being worked on
    delayed: int  # deferred (rate budget, retry backoff)
    dead: int  # gave up; kept for inspection


def queue_depths(broker: dramatiq.Broker) -> list[QueueDepth]:
    names = sorted(
        name for name in broker.get_declared_queues() if not name.endswith((".DQ", ".XQ"))
    )
    if isinstance(broker, RedisBroker):
        pipe = broker.client.pipeline()
        for name in names:
            for full in (name, dq_name(name), xq_name(name)):
                pipe.hlen(f"{broker.namespace}:{full}.msgs")
        counts = pipe.execute()
        return [
            QueueDepth(name, *counts[3 * index : 3 * index + 3]) for index, name in enumerate(names)
        ]
    if isinstance(broker, StubBroker):
        return [
            QueueDepth(
                name,
                broker.queues[name].qsize(),
                broker.queues[dq_name(name)].qsize() if dq_name(name) in broker.queues else 0,
                len(broker.dead_letters_by_queue.get(name, [])),
            )
            for name in names
        ]
    return []
