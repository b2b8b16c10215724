"""Redis loses the queue: flushed with every kind of job queued, and crashed and restarted
under running workers. The database still knows what is owed, and the reconciler re-sends it.

Each case runs its own redis-server (tests/faults/redis_server.py): the shared one must not be
flushed or restarted under other tests.
"""

from __future__ import annotations

import pytest
import redis

from integrations.strava.jobs import StravaJob
from tests.faults.redis_server import RedisServer
from tests.faults.world import WorldFactory
from worker.evaluation import run_evaluate_week
from worker.scheduler import Scheduler
from worker.webhook_jobs import strava_enqueue

pytestmark = pytest.mark.faults


def test_flushall_with_syncs_evaluations_and_emails_queued_loses_nothing(
    make_world: WorldFactory, own_redis: RedisServer
) -> None:
    world = make_world(queue_url=own_redis.url)
    runtime = world.runtime
    backfilling = world.needs_backfill(811)
    # No worker yet: the scheduler queues the three weeks, two are judged here (queueing
    # their digests), and a fresh connection queues its backfill.
    assert len(Scheduler(runtime).tick().scheduled) == 3
    for strava_id in (811, 813):
        run_evaluate_week(runtime, world.athletes[strava_id], world.week.isoformat())
    strava_enqueue(runtime)(StravaJob("backfill", backfilling))
    assert own_redis.keys() > 0
    own_redis.flushall()
    assert own_redis.keys() == 0

    with world.threads():
        world.settle()
    world.assert_nothing_lost()


def test_redis_crash_and_restart_under_running_workers_loses_nothing(
    make_world: WorldFactory, own_redis: RedisServer
) -> None:
    world = make_world(queue_url=own_redis.url)
    scheduler = Scheduler(world.runtime)
    with world.threads():
        own_redis.crash()
        # The weeks fall due while Redis is down: their rows are written, their messages
        # cannot be sent.
        with pytest.raises(redis.ConnectionError):
            scheduler.tick()
        own_redis.start()  # same port, empty: nothing was persisted
        assert scheduler.tick().scheduled == []  # the rows exist: nothing new to schedule
        world.settle()
    world.assert_nothing_lost()
