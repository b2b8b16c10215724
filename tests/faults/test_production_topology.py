"""Chaos in production topology: the commands of compose.yaml's services, run as processes.

migrate, web, `worker --processes 2 --threads 8` and the scheduler run as `compose.yaml` says
(tests/faults/topology.py reads the commands from it), on a real PostgreSQL, a Redis server of
the test's own (so it can be killed and come back empty), an SMTP server and the Strava
simulator. Forty runners connect through the real OAuth flow in the web service, their
backfills run on the worker processes, and then the week closes: the scheduler's Monday burst
of forty evaluations and about twenty digests, under faults. Each case ends with the checks of
tests/faults/checks.py (every fired athlete-week has one sent row and its mail, nothing is
stuck, duplicates only from a kill in an open SMTP transaction) and no 429 from Strava.

The week "closes" when the test dates the runners' connection back to the week before: real
processes read the real clock, so the boundary is moved to them rather than the clock. The
runners leave the connected page without an address and give it only then: a runner welcomed
at connect has their last closed week judged at once (worker/welcome.py), and the burst under
test is the one of a week that closes after the connect.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, func, select, update

from strideguard.models import Athlete, DeliveryRecord, Evaluation, StravaConnection
from strideguard.status import DeliveryKind
from strideguard.web.live import free_port
from strideguard.worker.weeks import WEEK, due_at
from tests.faults.redis_server import RedisServer
from tests.faults.smtp_hold import AcceptThenHold
from tests.faults.tcp_proxy import TcpProxy, through
from tests.faults.topology import (
    Deployment,
    connect_through_oauth,
    deployment,
    owner_of_connection,
    wait_until,
    web_url,
)
from tests.faults.world import GRACE, OSLO, RISKY, STEADY, FaultWorld, Runners, WorldFactory
from tests.worker.conftest import SmtpServer

pytestmark = pytest.mark.faults

# Strava ids 1001..1040; every other runner ran a risky week.
RUNNERS: Runners = {1001 + i: (f"Runner{i}", RISKY if i % 2 == 0 else STEADY) for i in range(40)}
ACTIVITIES = "/api/v3/athlete/activities"
# Limits high enough that the budget never defers a week: this is about faults, not pacing.
SIM_OPTIONS = {"read_limits": (1000, 10000), "overall_limits": (2000, 20000)}
ENV = {
    # A claim outlives a busy evaluation on a loaded 2-core machine; a killed one is retried
    # 15 s later.
    "JOB_LEASE_SECONDS": "15",
    "JOB_RETRY_SECONDS": "1",
    "JOB_MAX_ATTEMPTS": "8",
    "SCHEDULER_TICK_SECONDS": "1",
    # A worker child that cannot reach Redis gives up after 2 s: the supervisor's restarts,
    # not only the child's own wait, carry the tier over an outage.
    "STARTUP_WAIT_SECONDS": "2",
}
REDIS_AWAY_S = 8
SMTP_AWAY_S = 15
DATABASE_AWAY_S = 20
SETTLE_S = 120


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@contextmanager
def deploy(
    make_world: WorldFactory, own_redis: RedisServer, logs: Path, **env: str
) -> Iterator[tuple[FaultWorld, Deployment]]:
    """The running deployment with every runner connected and backfilled, with no address
    yet (so not welcomed); week not closed."""
    port = free_port()
    world = make_world(
        runners=RUNNERS,
        queue_url=own_redis.url,
        connect=False,
        sim_options=SIM_OPTIONS,
        **{**ENV, "PUBLIC_BASE_URL": web_url(port), **env},
    )
    with deployment(logs, port) as running:
        running.run("migrate")
        running.start("web")
        running.start("worker")
        running.wait_web()
        running.wait_workers(2)
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(
                    lambda strava_id: connect_through_oauth(running.web_url, strava_id, None),
                    RUNNERS,
                )
            )
        wait_until(lambda: backfilled(world) == len(RUNNERS), "every backfill", 90, running)
        assert count(world) == 0, "a week was judged before it closed"
        yield world, running


def backfilled(world: FaultWorld) -> int:
    with world.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    StravaConnection.backfilled_at.is_not(None),
                    StravaConnection.sync_requested_at.is_(None),
                )
            )
            or 0
        )


def close_the_week(world: FaultWorld) -> None:
    """Date every connection back to just after the previous week fell due, so the week the
    simulator's runs are in is news: what the scheduler sees on Monday morning.

    Each runner gets their address as they would have during that week, from the connected
    page. The welcome window is over by then, so the scheduler welcomes nobody: its Monday
    burst is the whole of the work."""
    connected = due_at(world.week - WEEK, OSLO, GRACE) + dt.timedelta(minutes=1)
    with world.sessions.begin() as session:
        session.execute(update(Athlete).values(created_at=connected, timezone="Europe/Oslo"))
        session.execute(
            update(StravaConnection).values(created_at=connected, backfilled_at=connected)
        )
        world.athletes.update(
            (row.strava_athlete_id, row.id)
            for row in session.execute(select(Athlete.strava_athlete_id, Athlete.id))
        )
        for strava_id, athlete_id in world.athletes.items():
            session.execute(
                update(Athlete)
                .where(Athlete.id == athlete_id)
                .values(email=f"runner{strava_id}@example.com")
            )


def count(world: FaultWorld, *where: ColumnElement[bool]) -> int:
    with world.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Evaluation).where(*where)) or 0)


def sent(world: FaultWorld) -> int:
    with world.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).where(
                    DeliveryRecord.status == "sent", DeliveryRecord.kind == DeliveryKind.DIGEST
                )
            )
            or 0
        )


def kill_a_worker(running: Deployment, rng: random.Random) -> int:
    victim = rng.choice(sorted(running.workers()))
    os.kill(victim, signal.SIGKILL)
    return victim


def check_end(world: FaultWorld, running: Deployment, *, accept_then_kill: int) -> None:
    wait_until(world.settled, "every job done", SETTLE_S, running)
    risky = sum(1 for _name, week in RUNNERS.values() if week == RISKY)
    assert count(world) == len(RUNNERS)
    assert sent(world) == risky
    assert [r for r in world.sim.requests if r.status == 429] == []
    for service in ("web", "worker", "scheduler"):
        assert running.processes[service].poll() is None, f"{service} exited\n{running.logs_text()}"
    running.wait_workers(2)
    world.assert_nothing_lost(accept_then_kill=accept_then_kill)


def test_monday_burst_under_kills_redis_loss_smtp_outage_and_strava_errors(
    make_world: WorldFactory,
    own_redis: RedisServer,
    smtp: SmtpServer,
    logs: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(18)
    started = time.monotonic()
    with deploy(make_world, own_redis, logs) as (world, running):
        world.sim.fail_next(ACTIVITIES, status=503, count=6)  # Strava 5xx on the first refreshes
        # Mail is down from the start of the burst until the end of the random kills, so no
        # kill but the deliberate one below can cut an open SMTP transaction.
        smtp.stop()
        close_the_week(world)
        running.start("scheduler")
        wait_until(lambda: count(world) == len(RUNNERS), "the burst queued", 60, running)

        # Redis dies, and comes back empty, while a worker process is being replaced.
        kill_a_worker(running, rng)
        own_redis.crash()
        time.sleep(REDIS_AWAY_S)
        own_redis.start()
        judged_after = wait_until(
            lambda: count(world, Evaluation.status == "pending") == 0,
            "every week judged after Redis returned",
            90,
            running,
        )

        # While SMTP is still away, workers are SIGKILLed at random.
        for _ in range(2):
            running.wait_workers(2)
            kill_a_worker(running, rng)
            time.sleep(SMTP_AWAY_S / 3)

        # SMTP returns, holding back its 250s; one worker process is killed after the server
        # took its digests and before it heard they were accepted: each of its open
        # transactions may become the documented duplicate, with the same Message-ID.
        inbox = AcceptThenHold()
        smtp.inbox = inbox
        smtp.start()
        back = time.monotonic()
        assert inbox.holding.wait(60), running.logs_text()
        mail_after = time.monotonic() - back
        time.sleep(1)  # let the other senders reach DATA too
        workers = running.workers()
        victim = owner_of_connection(int(inbox.peers[0][1]), workers)
        assert victim is not None, "no worker process holds the first SMTP connection"
        # Frozen first, so it opens no transaction while its open ones are counted.
        os.kill(victim, signal.SIGSTOP)
        time.sleep(0.5)  # DATA already on the wire reaches the server
        cut = sum(
            owner_of_connection(int(peer[1]), {victim}) == victim for peer in list(inbox.peers)
        )
        os.kill(victim, signal.SIGKILL)
        inbox.hold.set()
        print(f"the kill cut {cut} open SMTP transactions")  # shown when the case fails

        check_end(world, running, accept_then_kill=cut)
        duplicates = len(inbox.ids()) - len(set(inbox.ids()))
    with capsys.disabled():
        print(
            f"\nchaos burst: weeks judged {judged_after:.1f} s after Redis returned, first "
            f"digest {mail_after:.1f} s after SMTP returned, kill cut {cut} open SMTP "
            f"transactions, {duplicates} duplicates, "
            f"{time.monotonic() - started:.0f} s in all"
        )


def test_database_away_for_20_seconds_during_the_burst(
    make_world: WorldFactory,
    own_redis: RedisServer,
    proxy: TcpProxy,
    db_url: str,
    logs: Path,
) -> None:
    with deploy(make_world, own_redis, logs, DATABASE_URL=through(proxy, db_url)) as (
        world,
        running,
    ):
        close_the_week(world)
        running.start("scheduler")
        wait_until(lambda: count(world) == len(RUNNERS), "the burst queued", 60, running)
        proxy.cut()
        time.sleep(DATABASE_AWAY_S)
        proxy.restore()
        assert proxy.refused > 0  # the processes did try, and were turned away
        check_end(world, running, accept_then_kill=0)


def test_scheduler_killed_across_the_week_boundary_and_in_the_burst(
    make_world: WorldFactory, own_redis: RedisServer, logs: Path
) -> None:
    with deploy(make_world, own_redis, logs) as (world, running):
        running.start("scheduler")
        wait_until(
            lambda: "scheduler started" in running.log("scheduler"), "scheduler up", 60, running
        )
        running.kill("scheduler")
        close_the_week(world)  # the week falls due while no scheduler runs
        start_scheduler(running)
        wait_until(lambda: count(world) > 0, "the burst started", 60, running)
        running.kill("scheduler")  # and once more in the middle of the burst
        start_scheduler(running)
        # Each week once across the restarts (one row, one digest, no doubled alert), even
        # when the kill came between the rows' commit and their messages.
        check_end(world, running, accept_then_kill=0)


def start_scheduler(running: Deployment) -> None:
    """Start the scheduler as a restart policy would: again if the killed one's lock lingers."""
    for _ in range(10):
        process = running.start("scheduler")
        try:
            process.wait(3)
        except Exception:
            return
    raise AssertionError(f"the scheduler would not start\n{running.logs_text()}")
