"""Evaluations survive a worker SIGKILLed mid-evaluation and a Redis flush with jobs queued.

Worker processes run `strideguard worker` on real time, so the simulator runs on real time too
and the training history sits in the weeks just before today.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from strideguard.integrations.strava.simulator import Simulator
from strideguard.models import Alert, DeliveryRecord, Evaluation
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.worker.embedded import InProcessWorker
from strideguard.worker.scheduler import Scheduler
from strideguard.worker.weeks import due_at, latest_due_week
from tests.faults.checks import StravaView, assert_nothing_lost
from tests.worker.conftest import SmtpServer
from tests.worker.strava_history import (
    CLIENT_ID,
    CLIENT_SECRET,
    connect,
    history,
    sim_athlete,
    simulated_services,
)
from tests.worker.waiting import reconcile_until, wait_for, worker_process

RUNNER = 701
OSLO = ZoneInfo("Europe/Oslo")
GRACE = dt.timedelta(hours=6)
ACTIVITIES = "/api/v3/athlete/activities"


def the_week() -> dt.date:
    return latest_due_week(dt.datetime.now(dt.UTC), OSLO, GRACE)


def kims_history() -> list[dict[str, Any]]:
    """Five steady 20 km weeks, then a 40 km week that has just closed."""
    week = the_week()
    weeks = {week - dt.timedelta(weeks=i): (5.0, 5.0, 10.0) for i in range(1, 6)}
    weeks[week] = (10.0, 10.0, 20.0)
    return history(4000, weeks)


def nothing_lost(runtime: WorkerRuntime, sim: Simulator, smtp: SmtpServer) -> None:
    """The fault suite's end-of-case check."""
    view = StravaView(sim, {RUNNER: kims_history()})
    assert_nothing_lost(runtime.sessions, runtime.settings, inbox=smtp.inbox, strava=view)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(
        [sim_athlete(RUNNER, "Kim", kims_history())],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    ) as running:
        yield running


@pytest.fixture
def runtime(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Simulator,
) -> Iterator[WorkerRuntime]:
    settings = worker_env(
        REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, **simulated_services(sim, smtp)
    )
    built = start_runtime(settings)
    yield built
    built.close()


def connect_runner(runtime: WorkerRuntime, sim: Simulator) -> int:
    """Connected after the previous week fell due: only the week just closed is news."""
    week = the_week()
    connected = due_at(week - dt.timedelta(weeks=1), OSLO, GRACE) + dt.timedelta(minutes=1)
    return connect(
        runtime.sessions,
        runtime.strava,
        sim,
        RUNNER,
        email="kim@example.com",
        connected_at=connected,
    )


def state(runtime: WorkerRuntime) -> tuple[list[Evaluation], list[DeliveryRecord], int]:
    with runtime.sessions() as session:
        evaluations = list(session.scalars(select(Evaluation)))
        outbox = list(session.scalars(select(DeliveryRecord)))
        alerts = len(session.scalars(select(Alert.id)).all())
    return evaluations, outbox, alerts


def delivered(runtime: WorkerRuntime) -> bool:
    evaluations, outbox, _ = state(runtime)
    return (
        bool(evaluations)
        and all(e.status == "done" for e in evaluations)
        and bool(outbox)
        and all(o.status == "sent" for o in outbox)
    )


@pytest.mark.faults
def test_sigkill_mid_evaluation_then_reconciler_finishes_with_one_email(
    runtime: WorkerRuntime, sim: Simulator, smtp: SmtpServer
) -> None:
    athlete = connect_runner(runtime, sim)
    # Strava hangs on the window refresh, so the kill lands inside the evaluation.
    sim.timeout_next(ACTIVITIES, count=1, hold_s=60)
    asked_before = sim.count_requests(path_prefix=ACTIVITIES)
    first = worker_process()
    try:
        assert Scheduler(runtime).schedule_due_weeks(dt.datetime.now(dt.UTC)) == [
            (athlete, the_week())
        ]

        def claimed() -> bool:
            evaluations, _, _ = state(runtime)
            return bool(evaluations) and evaluations[0].started_at is not None

        wait_for(claimed, what="a worker to claim the evaluation")
        # A fixed pause here, on a busy machine, killed the worker before it asked Strava;
        # the held request then hung the recovery for a minute instead.
        wait_for(
            lambda: sim.count_requests(path_prefix=ACTIVITIES) > asked_before,
            what="the worker inside the hanging Strava request",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    [evaluation], outbox, alerts = state(runtime)
    assert evaluation.status == "pending"
    assert evaluation.attempts == 1
    assert (outbox, alerts) == ([], 0)

    # Recovery on worker threads here (a worker process restarting is test_delivery's case).
    pool = InProcessWorker(runtime, threads=2).start()
    try:
        reconcile_until(runtime, lambda: delivered(runtime), what="the digest delivered")
        time.sleep(1)
    finally:
        pool.stop()
    [evaluation], outbox, alerts = state(runtime)
    assert evaluation.attempts == 2
    assert len(outbox) == 1
    assert alerts >= 2  # weekly and single-run spikes, each written once
    assert smtp.inbox.ids() == [outbox[0].message_id]
    nothing_lost(runtime, sim, smtp)


@pytest.mark.faults
def test_redis_flush_with_evaluations_queued_still_sends_the_digest_once(
    runtime: WorkerRuntime, sim: Simulator, smtp: SmtpServer, redis_namespace: str
) -> None:
    connect_runner(runtime, sim)
    scheduler = Scheduler(runtime)
    assert len(scheduler.tick().scheduled) == 1  # enqueued, no worker running yet
    client = redis.Redis.from_url(runtime.settings.redis_url or "")
    for key in client.scan_iter(f"{redis_namespace}*"):
        client.delete(key)

    pool = InProcessWorker(runtime, threads=2).start()
    try:
        reconcile_until(runtime, lambda: delivered(runtime), what="the digest delivered")
        time.sleep(0.5)
    finally:
        pool.stop()
    _, outbox, _ = state(runtime)
    assert smtp.inbox.ids() == [outbox[0].message_id]
    nothing_lost(runtime, sim, smtp)
