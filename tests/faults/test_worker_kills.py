"""A worker process SIGKILLed in the middle of a sync, and in the middle of a send (between
the SMTP server's accept and the commit that marks the digest sent, after a long outage).

The kills in the middle of an evaluation and of an email send are in tests/worker
(test_lost_evaluations.py, test_delivery.py); they are marked `faults` and end with the same
check as these.
"""

from __future__ import annotations

import signal
import time

import pytest
from sqlalchemy import select

from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import DeliveryRecord, StravaConnection
from strideguard.worker.scheduler import Scheduler
from tests.faults.smtp_hold import AcceptThenHold
from tests.faults.world import RUNNERS, FaultWorld, WorldFactory
from tests.worker.conftest import SmtpServer
from tests.worker.waiting import wait_for, worker_process

pytestmark = pytest.mark.faults

ACTIVITIES = "/api/v3/athlete/activities"


def connection_of(world: FaultWorld, athlete: int) -> StravaConnection:
    with world.sessions() as session:
        return session.scalars(
            select(StravaConnection).where(StravaConnection.athlete_id == athlete)
        ).one()


def digests(world: FaultWorld) -> list[DeliveryRecord]:
    with world.sessions() as session:
        return list(session.scalars(select(DeliveryRecord)))


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


def test_sigkill_between_smtp_accept_and_mark_sent_after_a_long_outage(
    make_world: WorldFactory, smtp: SmtpServer
) -> None:
    """SMTP is down long enough for the digest's attempts to pass JOB_MAX_ATTEMPTS; when it
    returns, the sender is killed after the server accepted the digest and before the row
    says so. That is one crash, so the digest is not given up (it was, before outbox rows
    counted crashes apart), and the next sender delivers it again with the same Message-ID:
    the one documented duplicate (integrations/email/outbox.py)."""
    world = make_world(runners={811: RUNNERS[811], 812: RUNNERS[812]})  # one digest due
    max_attempts = world.runtime.settings.job_max_attempts
    smtp.stop()
    inbox = AcceptThenHold()
    first = worker_process()
    try:
        Scheduler(world.runtime).tick()
        wait_for(
            lambda: any(row.attempts > max_attempts for row in digests(world)),
            what="the digest retried past the attempt limit while SMTP is down",
        )
        smtp.inbox = inbox
        smtp.start()
        assert inbox.holding.wait(60), "no sender reached the end of DATA"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
        inbox.hold.set()
    [held] = digests(world)
    assert held.status == "sending"  # the server has it; the row does not know
    second = worker_process()
    try:
        world.settle()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    [row] = digests(world)
    assert (row.status, row.crashes) == ("sent", 1)
    assert row.attempts > max_attempts + 1
    assert inbox.ids() == [row.message_id, row.message_id]
    world.assert_nothing_lost(accept_then_kill=1)
