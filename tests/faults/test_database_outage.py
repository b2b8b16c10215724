"""PostgreSQL unreachable for 20 seconds, through a proxy the test cuts (tests/faults/tcp_proxy.py).

Jobs in flight when the database goes fail and are retried once it is back (the attempt is on
their rows), the web app answers /healthz with 503 rather than a traceback meanwhile, the
scheduler keeps ticking through the errors, and everything due completes afterwards.
"""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from strideguard.models import Evaluation
from strideguard.web.app import create_app
from strideguard.worker.scheduler import Scheduler
from tests.faults.tcp_proxy import TcpProxy, through
from tests.faults.world import WorldFactory
from tests.worker.waiting import wait_for

pytestmark = pytest.mark.faults

OUTAGE_S = 20  # the figure
ACTIVITIES = "/api/v3/athlete/activities"


def test_database_away_for_20_seconds_then_everything_due_completes(
    make_world: WorldFactory, proxy: TcpProxy, db_url: str
) -> None:
    # A lease well above one evaluation's run time even on a busy machine, so the only retry
    # is the one the outage caused.
    world = make_world(DATABASE_URL=through(proxy, db_url), JOB_LEASE_SECONDS="10")
    runtime = world.runtime
    web = TestClient(create_app(runtime.settings))
    assert web.get("/healthz").status_code == 200
    # Strava holds the window requests for a few seconds: the evaluations are in flight
    # when the database goes, and need it again when Strava answers.
    world.sim.timeout_next(ACTIVITIES, count=len(world.athletes), hold_s=3)
    stop = threading.Event()
    scheduler = threading.Thread(target=Scheduler(runtime).loop, args=(stop,), daemon=True)
    with world.threads(count=len(world.athletes)):
        scheduler.start()
        try:

            def all_claimed() -> bool:
                with world.sessions() as session:
                    started = session.scalars(select(Evaluation.started_at)).all()
                return len(started) == len(world.athletes) and None not in started

            wait_for(all_claimed, what="every evaluation in flight")
            proxy.cut()
            cut_at = time.monotonic()
            outage = web.get("/healthz")
            assert outage.status_code == 503
            assert outage.json() == {"status": "error", "database": "OperationalError"}
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
            assert web.get("/healthz").status_code == 503  # still away at the end
            proxy.restore()
            assert web.get("/healthz").status_code == 200
            world.settle()
        finally:
            stop.set()
            scheduler.join(10)
    assert proxy.refused > 0  # the app did try, and was turned away
    with world.sessions() as session:
        attempts = session.scalars(select(Evaluation.attempts)).all()
    # The attempt the outage broke is counted, and a retry after it finished the week. On a
    # loaded machine the retry itself may outlive its lease once more, so at least two.
    assert len(attempts) == len(world.athletes)
    assert all(count >= 2 for count in attempts), attempts
    world.assert_nothing_lost()
