"""A runner with a steady month on the simulated Strava, the web app taking webhooks, worker
threads on the real Redis broker and a real SMTP sink: the per-run alert's whole path."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strideguard.db import transaction
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import RunAlert, StravaSubscription
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.web.app import create_app
from strideguard.worker.embedded import InProcessWorker
from tests.strava.conftest import webhook_path
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    activity,
    connect,
    history,
    simulated_services,
)
from tests.worker.strava_history import sim_athlete as sim_runner

RUNNER = 601
SUBSCRIPTION = 778
NOW = dt.datetime(2025, 10, 17, 6, 0, tzinfo=dt.UTC)  # a Friday morning
THIS_WEEK = dt.date(2025, 10, 13)
# Five steady weeks before this one: the longest run of the month is 10 km.
PRIOR = {dt.date(2025, 9, 8) + dt.timedelta(weeks=i): (5.0, 5.0, 10.0) for i in range(5)}


def make_sim(clock: SimClock) -> Simulator:
    return Simulator(
        [sim_runner(RUNNER, "Rune", history(1000, PRIOR))],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
    )


@dataclass
class World:
    client: TestClient
    runtime: WorkerRuntime
    sim: Simulator
    smtp: SmtpServer
    athlete_id: int

    def new_run(self, activity_id: int, day: int, km: float, *, on_strava: bool = True) -> None:
        """The runner uploads a run on `day` of this week (0 = Monday); Strava's webhook
        reaches our route. `on_strava=False`: deleted before we could fetch it."""
        start = dt.datetime.combine(THIS_WEEK + dt.timedelta(days=day), dt.time(7, 0))
        if on_strava:
            self.sim.add_activity(RUNNER, activity(activity_id, start, distance_m=km * 1000))
        body = json.dumps(
            {
                "aspect_type": "create",
                "event_time": int(NOW.timestamp()) + activity_id,
                "object_id": activity_id,
                "object_type": "activity",
                "owner_id": RUNNER,
                "subscription_id": SUBSCRIPTION,
                "updates": {},
            }
        )
        path = webhook_path(self.runtime.settings)
        answer = self.client.post(path, content=body)
        assert answer.status_code == 200, answer.text

    def alerts(self) -> list[RunAlert]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(RunAlert).order_by(RunAlert.id)))


def start_world(
    settings: Settings, clock: SimClock, sim: Simulator, smtp: SmtpServer, *, threads: int = 2
) -> Iterator[World]:
    app = create_app(settings)
    runtime = start_runtime(settings, clock=clock.now)
    app.state.strava_enqueue = strava_enqueue(runtime)
    app.state.strava = runtime.strava
    app.state.worker_runtime = runtime
    with transaction(runtime.sessions) as session:
        session.add(StravaSubscription(subscription_id=SUBSCRIPTION, callback_url="https://x/y"))
    athlete_id = connect(
        runtime.sessions,
        runtime.strava,
        sim,
        RUNNER,
        email="rune@example.com",
        connected_at=NOW - dt.timedelta(days=9),
    )
    pool = InProcessWorker(runtime, threads=threads).start()
    try:
        with TestClient(app) as client:
            yield World(client, runtime, sim, smtp, athlete_id)
    finally:
        pool.stop()
        runtime.close()


# Fixtures; a test module takes them by assigning them to its own names.


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW, ticking=True)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    with make_sim(clock) as simulator:
        yield simulator


def _settings(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
    **extra: str,
) -> Settings:
    return worker_env(
        REDIS_URL=redis_url,
        QUEUE_NAMESPACE=redis_namespace,
        **simulated_services(sim, smtp),
        **extra,
    )


@pytest.fixture
def world(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
    clock: SimClock,
) -> Iterator[World]:
    """Worker threads running every job; alerts gather for 1 s instead of 20."""
    settings = _settings(
        worker_env, redis_url, redis_namespace, smtp, sim, RUN_ALERT_GATHER_SECONDS="1"
    )
    yield from start_world(settings, clock, sim, smtp)


@pytest.fixture
def quiet_world(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
    clock: SimClock,
) -> Iterator[World]:
    """The same world with no worker threads: the test runs each job itself."""
    settings = _settings(worker_env, redis_url, redis_namespace, smtp, sim)
    yield from start_world(settings, clock, sim, smtp, threads=0)
