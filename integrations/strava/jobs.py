"""The seam between the web routes and whatever runs background work.

Routes never run Strava work in the request: they hand a `StravaJob` to `app.state.strava_enqueue`.
The worker box replaces that callable with one that sends a dramatiq message; the actor then
calls `run_job`. Until then (and in the embedded default) `BackgroundRunner` runs jobs on one
thread in this process. The database stays the source of truth: backfills pending are visible as
`strava_connections.backfilled_at IS NULL` and events as `webhook_events.status = 'received'`,
so a lost job is found again by the reconciler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import StravaError
from strideguard.integrations.strava.sync import backfill
from strideguard.integrations.strava.webhooks import handle_event

log = logging.getLogger(__name__)

JobKind = Literal["backfill", "webhook_event"]


@dataclass(frozen=True)
class StravaJob:
    kind: JobKind
    # athletes.id for "backfill"; webhook_events.id for "webhook_event"
    target_id: int
    # A webhook event that needs no Strava request: a worker may apply it together with the
    # others waiting (webhooks.apply_activity_events) instead of on its own.
    batchable: bool = False


Enqueue = Callable[[StravaJob], None]


def run_job(ctx: StravaContext, job: StravaJob) -> None:
    """Do the job now. Raises StravaError subclasses; see errors.py for what to retry."""
    if job.kind == "backfill":
        backfill(ctx, job.target_id)
    else:
        handle_event(ctx, job.target_id)


class BackgroundRunner:
    """Embedded default: one thread, so the web request returns at once."""

    def __init__(self, ctx: StravaContext) -> None:
        self._ctx = ctx
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strava-job")
        self.pending: list[Future[None]] = []

    def __call__(self, job: StravaJob) -> None:
        self.pending = [f for f in self.pending if not f.done()]
        self.pending.append(self._pool.submit(self._run, job))

    def _run(self, job: StravaJob) -> None:
        try:
            run_job(self._ctx, job)
        except StravaError as error:
            log.warning("Strava job %s %d did not finish: %s", job.kind, job.target_id, error)

    def drain(self, timeout: float = 30) -> None:
        """Wait for queued jobs (tests, shutdown)."""
        for future in list(self.pending):
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
