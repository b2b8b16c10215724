"""A worker process SIGKILLed in the middle of a sync.

The kills in the middle of an evaluation and of an email send are in tests/worker
(test_lost_evaluations.py, test_delivery.py); they are marked `faults` and end with the same
check as these.
"""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from integrations.strava.jobs import StravaJob
from strideguard.models import StravaConnection
from tests.faults.world import FaultWorld, WorldFactory
from tests.worker.waiting import wait_for, worker_process
from worker.webhook_jobs import strava_enqueue

pytestmark = pytest.mark.faults

ACTIVITIES = "/api/v3/athlete/activities"


def connection_of(world: FaultWorld, athlete: int) -> StravaConnection:
    with world.sessions() as session:
        return session.scalars(
            select(StravaConnection).where(StravaConnection.athlete_id == athlete)
        ).one()


def test_sigkill_mid_backfill_then_the_sync_and_the_week_complete(
    make_world: WorldFactory,
) -> None:
    world = make_world()
    athlete = world.needs_backfill(811)
    # Strava hangs on the window request, so the kill lands inside the sync.
    world.sim.timeout_next(ACTIVITIES, count=1, hold_s=60)
    first = worker_process()
    try:
        strava_enqueue(world.runtime)(StravaJob("backfill", athlete))
        wait_for(
            lambda: world.sim.count_requests(path_prefix=ACTIVITIES) == 1,
            what="the worker to ask Strava for the window",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    killed = connection_of(world, athlete)
    assert killed.backfilled_at is None
    assert killed.sync_attempts == 1  # the dead attempt is counted on the row

    second = worker_process()
    try:
        world.settle()
        time.sleep(0.5)  # a stray redelivery would land now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    done = connection_of(world, athlete)
    assert done.backfilled_at is not None
    assert done.sync_attempts == 0
    world.assert_nothing_lost()
