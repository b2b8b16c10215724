"""Connect the web app to the worker: where the routes' background work goes.

With REDIS_URL the web process only *sends*: connect and webhook routes put messages on the
shared Redis queue and the worker processes run them. Without it (the embedded default, one
process on SQLite) the web process also runs the jobs on worker threads and the scheduler on a
thread of its own, so `strideguard web` alone is the whole service.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.worker.embedded import InProcessWorker

log = logging.getLogger(__name__)

EMBEDDED_THREADS = 4


def attach_worker(
    app: FastAPI,
    settings: Settings,
    *,
    with_scheduler: bool = True,
    run_jobs: bool | None = None,
) -> WorkerRuntime:
    """Point `app.state.strava_enqueue` at our actors; in-process jobs without Redis.

    `run_jobs=True` runs worker threads here even with REDIS_URL (`strideguard serve`, the
    whole service in one process); the default runs them only when there is no Redis.
    `with_scheduler=False` is for callers that decide themselves which weeks to evaluate (the
    demo replays past weeks; the scheduler would treat them as history, not news).

    Raises `strideguard.worker.broker.BrokerError` when REDIS_URL is set but Redis cannot be
    reached.
    """
    runtime = start_runtime(settings)
    app.state.strava_enqueue = strava_enqueue(runtime)
    # One Strava context (and so one rate budget) for the routes and the jobs.
    app.state.strava = runtime.strava
    app.state.worker_runtime = runtime
    pool: InProcessWorker | None = None
    if run_jobs or (run_jobs is None and not settings.redis_url):
        pool = InProcessWorker(
            runtime, threads=EMBEDDED_THREADS, with_scheduler=with_scheduler
        ).start()

    def shutdown() -> None:
        if pool is not None:
            pool.stop()
        runtime.close()

    app.router.add_event_handler("shutdown", shutdown)
    log.info(
        "background jobs: %s",
        "sent to Redis for worker processes" if settings.redis_url else "run in this process",
    )
    return runtime
