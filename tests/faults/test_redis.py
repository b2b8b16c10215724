"""Redis loses the queue: flushed with every kind of job queued, and crashed and restarted
under running workers. The database still knows what is owed, and the reconciler re-sends it.

Each case runs its own redis-server (tests/faults/redis_server.py): the shared one must not be
flushed or restarted under other tests.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import redis
from sqlalchemy import select

from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import DeliveryRecord, Evaluation
from strideguard.worker.evaluation import run_evaluate_week
from strideguard.worker.scheduler import Scheduler
from tests.faults.redis_server import RedisServer
from tests.faults.world import FaultWorld, WorldFactory
from tests.worker.waiting import wait_for

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


def test_redis_lost_while_the_scheduler_queues_the_weeks_is_seen_and_all_are_resent(
    make_world: WorldFactory, own_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis restarts empty in the middle of the scheduler's own sends (a loaded run of the
    test below caught it there): the week sent before the crash is lost with the queue, so
    the loss must be seen and every due week sent again, not left for the lease."""
    world = make_world(queue_url=own_redis.url)
    scheduler = Scheduler(world.runtime)
    send = world.runtime.jobs.evaluate_week
    sent: list[int] = []

    def crash_after_the_first(athlete_id: int, week: dt.date) -> None:
        send(athlete_id, week)
        sent.append(athlete_id)
        if len(sent) == 1:
            own_redis.crash()

    monkeypatch.setattr(world.runtime.jobs, "evaluate_week", crash_after_the_first)
    with pytest.raises(redis.ConnectionError):
        scheduler.tick()
    own_redis.start()  # same port, empty: the first week's message is gone
    monkeypatch.setattr(world.runtime.jobs, "evaluate_week", send)
    assert scheduler.reconciler.queue_lost()
    report = scheduler.reconciler.run(world.runtime.clock())
    assert report.evaluations == len(world.athletes) == 3


def test_queue_lost_between_ticks_digests_flow_within_30_s_at_default_settings(
    make_world: WorldFactory, own_redis: RedisServer
) -> None:
    """Redis restarts empty just after the scheduler queued the Monday weeks, at the default
    lease (15 min) and tick (60 s). Before, the reconciler would not re-send the lost weeks
    until their lease ran out; now it sees the queue's marker gone within seconds of Redis's
    return and re-sends everything due at once."""
    world = make_world(
        queue_url=own_redis.url, JOB_LEASE_SECONDS="900", SCHEDULER_TICK_SECONDS="60"
    )
    stop = threading.Event()
    scheduler = threading.Thread(
        target=Scheduler(world.runtime).loop, args=(stop,), name="scheduler", daemon=True
    )
    scheduler.start()
    try:
        wait_for(
            lambda: queued_evaluations(world) == len(world.athletes) and own_redis.keys() > 0,
            what="the weeks written and queued",
        )
        own_redis.crash()
        own_redis.start()  # same port, empty: the queued weeks are gone
        back = time.monotonic()
        with world.threads():
            wait_for(lambda: sent_digests(world) >= 1, what="a digest delivered", timeout_s=60)
            flowing_after = time.monotonic() - back
            world.settle_mail()
    finally:
        stop.set()
        scheduler.join(30)
    print(f"digests flowing {flowing_after:.1f} s after Redis returned")
    assert flowing_after < 30
    world.assert_nothing_lost()


def queued_evaluations(world: FaultWorld) -> int:
    with world.sessions() as session:
        return len(session.scalars(select(Evaluation.id)).all())


def sent_digests(world: FaultWorld) -> int:
    with world.sessions() as session:
        return len(
            session.scalars(select(DeliveryRecord.id).where(DeliveryRecord.status == "sent")).all()
        )
