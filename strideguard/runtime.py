"""What every job needs at hand, built once per process at start-up: the composition root.

The runtime builds the plug-ins (Strava's context and budget, the registered sources, the
digest's channel) and declares the actors, so it sits above the pipeline and the plug-ins,
beside the web app and the CLI. The jobs below it never import it: a pipeline job takes it
as a `PipelineHost` (worker/host.py), a plug-in's job as a `JobHost` or `DeliveryHost`
(worker/ports.py), and `WorkerRuntime` satisfies each.

`start_runtime(settings)` makes the engine, the broker and the actors bound to that broker, and
returns a `WorkerRuntime`. Nothing here runs at import: the embedded web process, a worker
process, the scheduler and each test build their own runtime from their own settings.

`WorkerRuntime.jobs` is the one way to enqueue work (the enqueue seam): the web routes, the
scheduler and the reconciler call it, and it sends to whichever broker this runtime installed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
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
from strideguard.worker.jobs import Jobs
from strideguard.worker.ports import ActivitySource, Channel, DrainRequests
from strideguard.worker.registry import CHANNELS, SOURCES, plugin_class
from strideguard.worker.sources import AthleteSources

if TYPE_CHECKING:
    from strideguard.rules import ConfigHolder

log = logging.getLogger(__name__)


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
        # Imported on use: evaluation loads the engine (numpy), as `rules` above.
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
    # Imported here: actors.py imports this module (and every job module).
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
