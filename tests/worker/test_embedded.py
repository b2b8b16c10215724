"""The embedded default: no Redis, the web process runs jobs on threads and the scheduler too.

Also checks that actors bind to the broker their runtime installed, never to one chosen at
import: an in-process runtime and a Redis runtime live side by side in one process.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.simulator import Simulator
from strideguard.models import Activity, StravaConnection
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.times import WEEK, week_start_of
from strideguard.web.app import create_app
from strideguard.worker.broker import BrokerError
from tests.worker.conftest import SmtpServer, queued
from tests.worker.digests import athletes_with_digests, outbox_rows
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
    simulated_services,
)
from tests.worker.waiting import wait_for

RUNNER = 601


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A simulator on real time, with three recent weeks of training."""
    this_week = week_start_of(dt.datetime.now(dt.UTC).date())
    weeks = {this_week - dt.timedelta(weeks=i): (5.0, 5.0, 10.0) for i in range(1, 4)}
    athletes = [sim_athlete(RUNNER, "Emma", history(3000, weeks))]
    with Simulator(athletes, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


@pytest.fixture
def embedded_settings(
    sqlite_env: Callable[..., Settings], smtp: SmtpServer, sim: Simulator
) -> Settings:
    # The in-process scheduler sends the daily purge on its first tick, racing the backfill;
    # with the default 7 days' retention, a run on a Sunday would purge all three weeks.
    return sqlite_env(RETENTION_DAYS="60", **simulated_services(sim, smtp))


@pytest.fixture
def embedded_app(embedded_settings: Settings) -> Iterator[tuple[FastAPI, WorkerRuntime]]:
    from strideguard.web.worker_seam import attach_worker

    app = create_app(embedded_settings)
    runtime = attach_worker(app, embedded_settings)
    yield app, runtime
    for handler in app.router.on_shutdown:
        handler()


def test_embedded_web_process_runs_backfills_and_sends_digests_itself(
    embedded_app: tuple[FastAPI, WorkerRuntime], sim: Simulator, smtp: SmtpServer
) -> None:
    app, runtime = embedded_app
    assert type(runtime.broker).__name__ == "StubBroker"
    athlete = connect(
        runtime.sessions,
        runtime.strava,
        sim,
        RUNNER,
        email="emma@example.com",
        connected_at=dt.datetime.now(dt.UTC),
    )
    with runtime.sessions.begin() as session:
        connection = session.scalar(
            select(StravaConnection).where(StravaConnection.athlete_id == athlete)
        )
        assert connection is not None
        connection.backfilled_at = None  # as the OAuth callback leaves it
    # What the connect route does after the callback: hand the backfill over the seam.
    app.state.strava_enqueue(StravaJob("backfill", athlete))

    def backfilled() -> bool:
        with runtime.sessions() as session:
            connection = session.scalar(
                select(StravaConnection).where(StravaConnection.athlete_id == athlete)
            )
            return connection is not None and connection.backfilled_at is not None

    wait_for(backfilled, what="the backfill on a worker thread")
    with runtime.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(Activity))
    assert stored == 15  # three weeks of three runs and two strength sessions

    # Digests waiting in the outbox are found by the in-process scheduler's reconciler.
    ids = athletes_with_digests(runtime.sessions, 2)
    # The new runner's first result comes too: a welcome (and, when last week tripped a
    # check, its digest), from the backfill's own job.
    welcome = f"<welcome-{athlete}-{week_start_of(dt.datetime.now(dt.UTC).date()) - WEEK}"
    wait_for(
        lambda: (
            all(row.status == "sent" for row in outbox_rows(runtime.sessions).values())
            and any(
                row.message_id.startswith(welcome) for row in outbox_rows(runtime.sessions).values()
            )
        ),
        what="the embedded scheduler and threads to send the digests and the welcome",
    )
    rows = outbox_rows(runtime.sessions)
    assert {rows[i].message_id for i in ids} <= set(smtp.inbox.ids())
    assert sorted(smtp.inbox.ids()) == sorted(row.message_id for row in rows.values())


def test_actors_bind_to_the_broker_of_their_runtime(
    sqlite_env: Callable[..., Settings], redis_url: str, redis_namespace: str
) -> None:
    in_process = start_runtime(sqlite_env())
    on_redis = start_runtime(sqlite_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace))
    try:
        on_redis.jobs.purge_expired()
        assert len(queued(on_redis, "maintenance")) == 1
        in_process.jobs.purge_expired()
        assert len(queued(on_redis, "maintenance")) == 1
        stub_queue = in_process.broker.queues["maintenance"]
        assert stub_queue.qsize() == 1
        for runtime in (in_process, on_redis):
            actor = runtime.broker.get_actor("evaluate_week")
            assert actor.broker is runtime.broker
            assert actor.queue_name == "evaluate"
            assert actor.options["max_retries"] == 3
            assert actor.options["time_limit"] == 10 * 60_000
    finally:
        in_process.close()
        on_redis.close()


def test_unreachable_redis_stops_start_up_with_one_line(
    sqlite_env: Callable[..., Settings],
) -> None:
    with pytest.raises(BrokerError, match=r"cannot reach Redis at redis://\*\*\*@127.0.0.1:1/0"):
        start_runtime(sqlite_env(REDIS_URL="redis://user:hunter2@127.0.0.1:1/0"))
