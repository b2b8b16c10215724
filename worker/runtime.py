"""What every job needs at hand, built once per process at start-up.

`start_runtime(settings)` makes the engine, the broker and the actors bound to that broker, and
returns a `WorkerRuntime`. Nothing here runs at import: the embedded web process, a worker
process, the scheduler and each test build their own runtime from their own settings.

`WorkerRuntime.jobs` is the one way to enqueue work (the enqueue seam): the web routes, the
scheduler and the reconciler call it, and it sends to whichever broker this runtime installed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dramatiq
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import make_engine, make_sessionmaker
from strideguard.integrations.strava.budget import make_budget
from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.models import utcnow
from strideguard.settings import Settings
from strideguard.worker.drain_requests import make_drain_requests
from strideguard.worker.ports import ActivitySource, Channel, DrainRequests
from strideguard.worker.registry import CHANNELS, SOURCES, plugin_class
from strideguard.worker.sources import AthleteSources

if TYPE_CHECKING:
    from strideguard.rules import ConfigHolder

log = logging.getLogger(__name__)

# Actor names, shared by the declarations (worker/actors.py) and the senders below.
BACKFILL = "backfill_athlete"
REFRESH_WINDOW = "refresh_window"
READ_GEAR = "read_gear"
PROCESS_WEBHOOK_EVENT = "process_webhook_event"
DRAIN_WEBHOOK_EVENTS = "drain_webhook_events"
EVALUATE_WEEK = "evaluate_week"
SEND_DIGEST = "send_digest"
SEND_CHANNEL_MESSAGE = "send_channel_message"
PURGE_EXPIRED = "purge_expired"
JUDGE_RUN = "judge_run"
SEND_RUN_ALERT = "send_run_alert"
WELCOME = "welcome_athlete"
IMPORT_FILES = "import_files"
SCAN_WATCH_DIR = "scan_watch_dir"


class Jobs:
    """Typed senders for every actor; `delay` is in milliseconds, as dramatiq takes it."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self._broker = broker

    def _send(self, actor_name: str, *args: Any, delay: int | None = None) -> None:
        self._broker.get_actor(actor_name).send_with_options(args=args, delay=delay)

    def backfill(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(BACKFILL, athlete_id, delay=delay)

    def refresh_window(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(REFRESH_WINDOW, athlete_id, delay=delay)

    def read_gear(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(READ_GEAR, athlete_id, delay=delay)

    def process_webhook_event(self, event_id: int, *, delay: int | None = None) -> None:
        self._send(PROCESS_WEBHOOK_EVENT, event_id, delay=delay)

    def drain_webhook_events(self) -> None:
        self._send(DRAIN_WEBHOOK_EVENTS)

    def evaluate_week(
        self, athlete_id: int, week_start: dt.date, *, delay: int | None = None
    ) -> None:
        self._send(EVALUATE_WEEK, athlete_id, week_start.isoformat(), delay=delay)

    def send_digest(self, outbox_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_DIGEST, outbox_id, delay=delay)

    def send_channel_message(self, message_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_CHANNEL_MESSAGE, message_id, delay=delay)

    def welcome(self, athlete_id: int, *, delay: int | None = None) -> None:
        self._send(WELCOME, athlete_id, delay=delay)

    def purge_expired(self, *, delay: int | None = None) -> None:
        self._send(PURGE_EXPIRED, delay=delay)

    def judge_run(self, athlete_id: int, activity_id: int, *, delay: int | None = None) -> None:
        self._send(JUDGE_RUN, athlete_id, activity_id, delay=delay)

    def send_run_alert(self, run_alert_id: int, *, delay: int | None = None) -> None:
        self._send(SEND_RUN_ALERT, run_alert_id, delay=delay)

    def import_files(
        self,
        athlete_id: int,
        paths: Sequence[str],
        *,
        remove_after: str | None = None,
        import_id: int | None = None,
    ) -> None:
        """Queue an import of the runner's files; `remove_after` is a folder to delete after
        (an upload's temporary folder), `import_id` the `file_imports` row that records the
        outcome for the runner page. See integrations/files/jobs.py."""
        self._send(IMPORT_FILES, athlete_id, list(paths), remove_after, import_id)

    def scan_watch_dir(self) -> None:
        """Look for new files in IMPORT_WATCH_DIR/<athlete id>/ (integrations/files/watch.py)."""
        self._send(SCAN_WATCH_DIR)


@dataclass
class WorkerRuntime:
    """Settings, database and queue for one process; actors receive it by closure."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    broker: dramatiq.Broker
    clock: Callable[[], dt.datetime] = utcnow
    jobs: Jobs = field(init=False)
    webhook_drains: DrainRequests = field(init=False)
    strava: StravaContext = field(init=False)
    # The pipeline's two ports (worker/ports.py), from the registry (worker/registry.py).
    source: ActivitySource = field(init=False)
    channel: Channel = field(init=False)
    # The rules in force; reloads a valid edit of RULES_PATH without a restart. Loaded here,
    # at start-up, so a broken file stops the process (ConfigError) instead of failing the
    # first page or job that asks; later broken edits leave the last good version in force.
    rules: ConfigHolder = field(init=False)

    def __post_init__(self) -> None:
        from strideguard.rules import (
            ConfigHolder,  # numpy: loaded by processes that build a runtime
        )

        self.rules = ConfigHolder(self.settings.rules_path)
        self.jobs = Jobs(self.broker)
        self.webhook_drains = make_drain_requests(self.broker)
        # The budget's keys live under the queue namespace, so deployments sharing a Redis
        # (and tests) keep separate budgets.
        budget = make_budget(
            self.settings, namespace=f"{self.settings.queue_namespace}:strava-budget"
        )
        self.strava = make_context(self.settings, self.sessions, budget=budget, clock=self.clock)
        # Every registered source; an athlete's evaluation reads those they have.
        self.source = AthleteSources(
            self.sessions, {kind: plugin_class(SOURCES, kind).from_host(self) for kind in SOURCES}
        )
        self.channel = plugin_class(CHANNELS, "email")(self.settings)

    def plugin_context(self, kind: str) -> Any:
        """What a plug-in's `from_host` needs beyond settings, sessions and clock."""
        return self.strava if kind == "strava" else None

    def reopen_week(
        self, session: Session, athlete_id: int, week_start: dt.date, now: dt.datetime
    ) -> bool:
        """A plug-in's job re-opens a judged week through this (worker/ports.py, `JobHost`)."""
        # Imported here: evaluation takes the runtime as its argument type.
        from strideguard.worker.evaluation import reopen_for_late_activity

        return reopen_for_late_activity(session, athlete_id, week_start, now)

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.job_lease_seconds)

    def retry_delay(self, attempts: int) -> dt.timedelta:
        """Backoff before attempt `attempts + 1`: JOB_RETRY_SECONDS doubling, capped at 1 h."""
        seconds = self.settings.job_retry_seconds * 2 ** max(attempts - 1, 0)
        return dt.timedelta(seconds=min(seconds, 3600.0))

    def close(self) -> None:
        self.broker.close()
        self.engine.dispose()


def start_runtime(
    settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow
) -> WorkerRuntime:
    """Build the runtime for `settings` and declare the actors on its broker.

    The broker also becomes dramatiq's global broker, so anything that looks it up the
    dramatiq way (the `dramatiq` CLI, middleware) finds the same one. `clock` lets the demo
    and tests share a simulated Strava's time.
    """
    # Imported here: actors.py imports the job modules, which import this module.
    from strideguard.worker.actors import declare_actors
    from strideguard.worker.broker import make_broker

    broker = make_broker(settings)
    dramatiq.set_broker(broker)
    engine = make_engine(settings.database_url)
    runtime = WorkerRuntime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        broker=broker,
        clock=clock,
    )
    declare_actors(runtime)
    return runtime
