"""The test as the worker of one Redis queue, on a frozen simulated clock.

Messages are the broker's own (sent by the job code through `runtime.jobs`); the test takes
them off Redis and runs each actor's function in the order they were sent. Time moves only
when nothing is left to run now: the clock jumps to the next 15-minute window and every
deferred message comes back, as a deferral to "the next window" means. That keeps a tight
rate budget deterministic, where worker threads and real-time delays would race the clock.
"""

from __future__ import annotations

import json
from typing import Any

from strideguard.integrations.strava.budget import ms_to_next_window
from strideguard.integrations.strava.simulator import SimClock
from strideguard.runtime import WorkerRuntime


class QueueRunner:
    def __init__(self, runtime: WorkerRuntime, clock: SimClock, queue: str = "sync") -> None:
        self.runtime = runtime
        self.clock = clock
        self.queue = queue
        self.ran: list[tuple[str, list[Any]]] = []

    def _take(self, queue: str) -> list[tuple[str, list[Any]]]:
        """Remove and return every message waiting on `queue` (Redis broker layout)."""
        client = self.runtime.broker.client  # type: ignore[attr-defined]
        key = f"{self.runtime.settings.queue_namespace}:{queue}"
        ids = client.lrange(key, 0, -1)
        raw = client.hmget(f"{key}.msgs", ids) if ids else []
        client.delete(key, f"{key}.msgs")
        messages = [json.loads(body) for body in raw]
        return [(m["actor_name"], list(m["args"])) for m in messages]

    def run_now(self) -> int:
        """Run what is queued for now, and what that sends for now, until nothing is left."""
        count = 0
        while batch := self._take(self.queue):
            for actor_name, args in batch:
                self.ran.append((actor_name, args))
                self.runtime.broker.get_actor(actor_name).fn(*args)
                count += 1
        return count

    def next_window(self) -> bool:
        """Move to the next window and bring the deferred messages back; False if none."""
        deferred = self._take(f"{self.queue}.DQ")
        if not deferred:
            return False
        self.clock.advance(ms_to_next_window(self.clock.now()) / 1000)
        for actor_name, args in deferred:
            self.runtime.broker.get_actor(actor_name).send(*args)
        return True

    def run_until_idle(self, max_windows: int = 50) -> int:
        """Run window after window until no message is waiting; the windows it took."""
        for window in range(max_windows):
            self.run_now()
            if not self.next_window():
                return window
        raise AssertionError(f"still deferring after {max_windows} windows: {self.ran[-5:]}")
