"""Run jobs inside the current process: dramatiq worker threads, and optionally the scheduler.

The embedded default (`strideguard demo`/`serve` without REDIS_URL) uses this with dramatiq's
in-process StubBroker; `strideguard worker` uses the same thread pool against Redis. Either way
the actors are the same, only the broker differs.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import dramatiq
from dramatiq.middleware import CurrentMessage

from strideguard.runtime import WorkerRuntime
from strideguard.worker.scheduler import Scheduler
from strideguard.worker.single_instance import AlreadyRunning

log = logging.getLogger(__name__)

# How long an idle worker thread waits before checking for shutdown (ms).
WORKER_IDLE_MS = 500


@dataclass
class InProcessWorker:
    """dramatiq worker threads (and the scheduler thread, if asked) for one runtime."""

    runtime: WorkerRuntime
    threads: int = 4
    with_scheduler: bool = False
    _worker: dramatiq.Worker | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _scheduler_thread: threading.Thread | None = None

    def start(self) -> InProcessWorker:
        _log_job_ids()
        self._worker = dramatiq.Worker(
            self.runtime.broker, worker_threads=self.threads, worker_timeout=WORKER_IDLE_MS
        )
        self._worker.start()
        if self.with_scheduler:
            self._scheduler_thread = threading.Thread(
                target=self._run_scheduler, name="scheduler", daemon=True
            )
            self._scheduler_thread.start()
        log.info(
            "in-process worker started: %d threads%s",
            self.threads,
            " and the scheduler" if self.with_scheduler else "",
        )
        return self

    def _run_scheduler(self) -> None:
        try:
            Scheduler(self.runtime).run_forever(self._stop)
        except AlreadyRunning as exc:
            # This process still runs the jobs it is handed; the other one schedules.
            log.error("scheduler not started here: %s", exc)

    def stop(self, timeout_s: float = 30) -> None:
        """Finish in-flight jobs, then stop (the scheduler first, so it enqueues nothing new)."""
        self._stop.set()
        if self._scheduler_thread is not None:
            self._scheduler_thread.join(timeout_s)
        if self._worker is not None:
            self._worker.stop(timeout=int(timeout_s * 1000))
            self._worker = None


class JobIdFilter(logging.Filter):
    """Stamp each log line written inside an actor with the dramatiq message id as `job_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = CurrentMessage.get_current_message()
        if message is not None and not hasattr(record, "job_id"):
            record.job_id = message.message_id
        return True


def _log_job_ids() -> None:
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, JobIdFilter) for f in handler.filters):
            handler.addFilter(JobIdFilter())
