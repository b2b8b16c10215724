"""The dramatiq actors, declared on whichever broker the runtime installed.

Actors are declared by `declare_actors(runtime)` at start-up rather than by decorators at import
time, so no broker is chosen by importing this module and each runtime (a worker process, the
embedded web process, a test) binds its own actors to its own broker and database.

Every actor states its queue, time limit and retry policy. Errors that can never succeed
(revoked connection, attempts exhausted) are in `throws`, so dramatiq does not retry them; the
job functions have already written the reason on the job's DB row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dramatiq

from strideguard.integrations.email import outbox
from strideguard.integrations.files import jobs as file_jobs
from strideguard.integrations.files import watch
from strideguard.integrations.strava import gear_jobs, sync_jobs, webhook_jobs
from strideguard.integrations.strava.errors import ConnectionRevoked, NotConnected, StravaRejected
from strideguard.leases import GaveUp
from strideguard.runtime import WorkerRuntime
from strideguard.worker import (
    channel_messages,
    evaluation,
    jobs,
    run_alert_send,
    run_alerts,
    welcome,
)

MINUTE_MS = 60_000
NEVER_RETRY = (GaveUp, ConnectionRevoked, NotConnected, StravaRejected)


@dataclass(frozen=True)
class ActorSpec:
    name: str
    queue: str
    time_limit_ms: int
    run: Callable[..., None]


def _specs() -> list[ActorSpec]:
    return [
        ActorSpec(jobs.BACKFILL, "sync", 15 * MINUTE_MS, sync_jobs.backfill),
        ActorSpec(jobs.REFRESH_WINDOW, "sync", 10 * MINUTE_MS, sync_jobs.refresh_window),
        ActorSpec(jobs.READ_GEAR, "sync", 10 * MINUTE_MS, gear_jobs.read_gear),
        ActorSpec(jobs.PROCESS_WEBHOOK_EVENT, "sync", 2 * MINUTE_MS, webhook_jobs.process_event),
        ActorSpec(jobs.DRAIN_WEBHOOK_EVENTS, "sync", 5 * MINUTE_MS, webhook_jobs.drain_events),
        ActorSpec(jobs.EVALUATE_WEEK, "evaluate", 10 * MINUTE_MS, evaluation.run_evaluate_week),
        ActorSpec(jobs.SEND_DIGEST, "email", 2 * MINUTE_MS, outbox.send_digest),
        # On the sync queue: a new run's judgement follows its fetch at once, not behind the
        # Monday evaluations.
        ActorSpec(jobs.JUDGE_RUN, "sync", 2 * MINUTE_MS, run_alerts.judge_run),
        ActorSpec(jobs.SEND_RUN_ALERT, "email", 2 * MINUTE_MS, run_alert_send.send_run_alert),
        # Its own queue: a slow push service never waits in line before an email.
        ActorSpec(
            jobs.SEND_CHANNEL_MESSAGE,
            "channels",
            2 * MINUTE_MS,
            channel_messages.send_channel_message,
        ),
        ActorSpec(jobs.WELCOME, "evaluate", 10 * MINUTE_MS, welcome.run_welcome),
        ActorSpec(jobs.PURGE_EXPIRED, "maintenance", 30 * MINUTE_MS, sync_jobs.purge_expired),
        ActorSpec(jobs.IMPORT_FILES, "import", 30 * MINUTE_MS, _import_files),
        ActorSpec(jobs.SCAN_WATCH_DIR, "import", 5 * MINUTE_MS, _scan_watch_dir),
    ]


def _import_files(
    runtime: WorkerRuntime,
    athlete_id: int,
    paths: list[str],
    remove_after: str | None = None,
    import_id: int | None = None,
) -> None:
    """The runner's own files (integrations/files/jobs.py), queued by upload or watched folder."""
    file_jobs.import_files(
        runtime.sessions,
        runtime.settings,
        athlete_id,
        paths,
        remove_after,
        import_id,
        now=runtime.clock(),
    )


def _scan_watch_dir(runtime: WorkerRuntime) -> None:
    """The watched folder (integrations/files/watch.py): new settled files become imports."""

    def queue(athlete_id: int, paths: list[str], import_id: int) -> None:
        runtime.jobs.import_files(athlete_id, paths, import_id=import_id)

    watch.scan_watch_dir(runtime.sessions, runtime.settings, runtime.clock(), queue)


def declare_actors(runtime: WorkerRuntime) -> dict[str, dramatiq.Actor[Any, None]]:
    """Declare every actor on `runtime.broker`, each calling its job with this runtime."""
    settings = runtime.settings
    retry_ms = int(settings.job_retry_seconds * 1000)
    declared: dict[str, dramatiq.Actor[Any, None]] = {}
    for spec in _specs():
        declare = dramatiq.actor(
            actor_name=spec.name,
            queue_name=spec.queue,
            broker=runtime.broker,
            time_limit=spec.time_limit_ms,
            # The DB row counts attempts too (and catches crashes dramatiq cannot see); the
            # job gives up itself at JOB_MAX_ATTEMPTS, so this is only a backstop.
            max_retries=settings.job_max_attempts,
            min_backoff=retry_ms,
            max_backoff=max(retry_ms, 60 * MINUTE_MS),
            throws=NEVER_RETRY,
        )
        declared[spec.name] = declare(_bind(spec.run, runtime))
    return declared


def _bind(job: Callable[..., None], runtime: WorkerRuntime) -> Callable[..., None]:
    def run(*args: Any) -> None:
        job(runtime, *args)

    run.__name__ = job.__name__
    run.__module__ = job.__module__
    return run
