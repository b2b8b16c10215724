"""A crowd of new runners under a tight Strava budget: every runner's activities first, shoes
later at background priority, and no request spent on a duplicate backfill message.

The simulator serves Strava over HTTP with a small read limit (5 per 15 minutes), the jobs
send real messages to the real Redis broker, and the test runs them in order on a frozen
clock (tests/worker/sync_queue.py), moving to the next window whenever all work is deferred.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava import sync_jobs
from strideguard.integrations.strava.budget import WINDOW_S
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.sync import refresh_window
from strideguard.integrations.strava.tokens import store_grant
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import Athlete, Gear, StravaConnection
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.worker.ports import Priority
from strideguard.worker.scheduler import Scheduler
from tests.worker.strava_history import CLIENT_ID, CLIENT_SECRET, OSLO_OFFSET, activity
from tests.worker.sync_queue import QueueRunner

NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday, on a window boundary
READ_LIMIT = 5  # per 15 minutes: backfills may use all 5 reads (nothing due), background 3
RUNNERS = range(3001, 3007)
ACTIVITIES = "/api/v3/athlete/activities"
GEAR = "/api/v3/gear/"


def shoe_distances(strava_id: int) -> dict[str, int]:
    """The runner's two pairs: 100 km and 200 km on them, as Strava counts."""
    return {f"g{strava_id}{side}": 100_000 * n for n, side in enumerate("ab", start=1)}


def shoes(strava_id: int) -> list[dict[str, object]]:
    return [
        {"id": gear_id, "name": f"Shoe {gear_id[-1]}", "distance": float(metres)}
        for gear_id, metres in shoe_distances(strava_id).items()
    ]


def runner(strava_id: int) -> dict[str, object]:
    """Three weeks of runs, alternating between the runner's two pairs of shoes."""
    now_local = NOW.replace(tzinfo=None) + OSLO_OFFSET
    runs = []
    for day in range(1, 22, 2):
        run = activity(strava_id * 100 + day, now_local - dt.timedelta(days=day), distance_m=8000)
        run["gear_id"] = list(shoe_distances(strava_id))[day % 4 // 2]
        runs.append(run)
    return {
        "athlete": {"id": strava_id, "firstname": "New", "measurement_preference": "meters"},
        "activities": runs,
        "gear": shoes(strava_id),
    }


@pytest.fixture
def clock() -> SimClock:
    return SimClock(NOW, ticking=False)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    with Simulator(
        [runner(strava_id) for strava_id in RUNNERS],
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        read_limits=(READ_LIMIT, 1000),
    ) as running:
        yield running


@pytest.fixture
def runtime(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    sim: Simulator,
    clock: SimClock,
) -> Iterator[WorkerRuntime]:
    settings = worker_env(
        REDIS_URL=redis_url,
        QUEUE_NAMESPACE=redis_namespace,
        STRAVA_BASE_URL=sim.base_url,
        STRAVA_CLIENT_ID=str(CLIENT_ID),
        STRAVA_CLIENT_SECRET=CLIENT_SECRET,
    )
    built = start_runtime(settings, clock=clock.now)
    yield built
    built.close()


@pytest.fixture
def queue(runtime: WorkerRuntime, clock: SimClock) -> QueueRunner:
    return QueueRunner(runtime, clock)


def connect(runtime: WorkerRuntime, sim: Simulator, strava_id: int) -> int:
    """A runner back from Strava's consent page, as the OAuth callback leaves them."""
    grant = sim.issue_tokens(strava_id, ["read", "activity:read_all"])
    with runtime.sessions.begin() as session:
        athlete = Athlete(strava_athlete_id=strava_id, email=f"{strava_id}@example.com")
        session.add(athlete)
        session.flush()
        store_grant(session, runtime.strava, athlete.id, grant, "read,activity:read_all")
        return athlete.id


def connect_everyone(runtime: WorkerRuntime, sim: Simulator) -> list[int]:
    athletes = [connect(runtime, sim, strava_id) for strava_id in RUNNERS]
    enqueue = strava_enqueue(runtime)
    for athlete in athletes:
        enqueue(StravaJob("backfill", athlete))
    return athletes


def api_requests(sim: Simulator) -> list[str]:
    return [r.path for r in sim.requests if r.path.startswith("/api/v3/")]


def stored_shoes(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {g.strava_gear_id: g.distance_m for g in session.scalars(select(Gear))}


def spend_the_backfill_share(runtime: WorkerRuntime) -> None:
    """Another process spends what backfills may use of this window."""
    try:
        while True:
            runtime.strava.budget.reserve(Priority.BACKFILL, runtime.clock())
    except BudgetExceeded:
        return


def connection(runtime: WorkerRuntime, athlete: int) -> StravaConnection:
    with runtime.sessions() as session:
        return session.scalars(
            select(StravaConnection).where(StravaConnection.athlete_id == athlete)
        ).one()


def test_every_runner_s_activities_come_before_any_shoe_and_shoes_use_the_background_share(
    runtime: WorkerRuntime, sim: Simulator, queue: QueueRunner
) -> None:
    connect_everyone(runtime, sim)
    queue.run_until_idle()

    paths = api_requests(sim)
    lists = [i for i, path in enumerate(paths) if path == ACTIVITIES]
    reads = [i for i, path in enumerate(paths) if path.startswith(GEAR)]
    assert len(lists) == len(RUNNERS)
    assert max(lists) < min(reads), paths  # every runner's window before anyone's shoes
    # Each shoe read once, at Strava's figure, and nothing else: no request more than before.
    expected = {gear_id: m for r in RUNNERS for gear_id, m in shoe_distances(r).items()}
    assert stored_shoes(runtime.sessions) == expected
    assert len(reads) == len(expected)
    assert [r.status for r in sim.requests if r.status == 429] == []
    # Shoes never took more of a window than the background share (60 % of 5: 3 reads).
    per_window = Counter(
        int(r.at.timestamp()) // WINDOW_S for r in sim.requests if r.path.startswith(GEAR)
    )
    assert max(per_window.values()) == 3
    with runtime.sessions() as session:
        assert session.scalars(select(StravaConnection.backfilled_at)).all().count(None) == 0


def test_a_shoe_job_waits_while_another_runner_s_first_sync_is_still_queued(
    runtime: WorkerRuntime, sim: Simulator, queue: QueueRunner
) -> None:
    first, second = (connect(runtime, sim, strava_id) for strava_id in list(RUNNERS)[:2])
    sync_jobs.backfill(runtime, first)  # queues the first runner's shoe job
    strava_enqueue(runtime)(StravaJob("backfill", second))  # queued behind that shoe job
    queue.run_until_idle()
    assert queue.ran[:2] == [("read_gear", [first]), ("backfill_athlete", [second])]
    paths = api_requests(sim)
    assert paths[:2] == [ACTIVITIES, ACTIVITIES]
    assert len(paths) == 2 + 4
    assert all(path.startswith(GEAR) for path in paths[2:])


def test_a_backfill_already_done_or_running_costs_no_request(
    runtime: WorkerRuntime, sim: Simulator, queue: QueueRunner
) -> None:
    athlete = connect(runtime, sim, RUNNERS[0])
    strava_enqueue(runtime)(StravaJob("backfill", athlete))
    queue.run_until_idle()
    done = len(api_requests(sim))
    # Its own delayed message and the reconciler's re-send arrive after it finished.
    runtime.jobs.backfill(athlete)
    runtime.jobs.backfill(athlete)
    assert queue.run_now() == 2
    assert len(api_requests(sim)) == done
    state = connection(runtime, athlete)
    assert (state.sync_attempts, state.last_error, state.sync_started_at) == (0, None, None)

    # A runner who clicks "Connect" twice: the second message meets the first one running.
    with runtime.sessions.begin() as session:
        session.execute(
            update(StravaConnection)
            .where(StravaConnection.athlete_id == athlete)
            .values(backfilled_at=None, sync_started_at=runtime.clock())
        )
    sync_jobs.backfill(runtime, athlete)
    assert len(api_requests(sim)) == done
    assert connection(runtime, athlete).backfilled_at is None
    # A lease that outlived its attempt (the worker died) does not hold the sync forever.
    queue.clock.advance(runtime.settings.job_lease_seconds + 1)
    sync_jobs.backfill(runtime, athlete)
    assert api_requests(sim)[done:] == [ACTIVITIES]
    assert connection(runtime, athlete).backfilled_at is not None


def test_a_deferred_backfill_is_not_re_sent_by_the_reconciler_before_its_window(
    runtime: WorkerRuntime, sim: Simulator, queue: QueueRunner
) -> None:
    athlete = connect(runtime, sim, RUNNERS[0])
    spend_the_backfill_share(runtime)
    strava_enqueue(runtime)(StravaJob("backfill", athlete))
    queue.run_now()
    next_window = NOW + dt.timedelta(seconds=WINDOW_S)
    deferred = connection(runtime, athlete)
    assert deferred.backfilled_at is None
    assert deferred.sync_requested_at is not None
    assert deferred.sync_requested_at.replace(tzinfo=dt.UTC) == next_window
    reconciler = Scheduler(runtime).reconciler
    lease = dt.timedelta(seconds=runtime.settings.job_lease_seconds)
    # Its own delayed message will come: the reconciler waits for it.
    assert reconciler.run(next_window - dt.timedelta(seconds=1)).syncs == 0
    # The week's evaluation refreshes the window first; that is not the first sync.
    queue.clock.advance(WINDOW_S)
    refresh_window(runtime.strava, athlete, priority=Priority.EVALUATION)
    # Lost after all (a lease past its window and still not backfilled): sent again, once.
    assert reconciler.run(next_window + lease + dt.timedelta(seconds=1)).syncs == 1


def test_a_reconnect_is_followed_by_a_first_sync_of_its_own(
    runtime: WorkerRuntime, sim: Simulator, queue: QueueRunner
) -> None:
    athlete = connect(runtime, sim, RUNNERS[0])
    strava_enqueue(runtime)(StravaJob("backfill", athlete))
    queue.run_until_idle()
    queue.clock.advance(7 * 24 * 3600)
    with runtime.sessions.begin() as session:  # back from Strava's consent page once more
        grant = sim.issue_tokens(RUNNERS[0], ["read", "activity:read_all"])
        store_grant(session, runtime.strava, athlete, grant, "read,activity:read_all")
    before = len(api_requests(sim))
    strava_enqueue(runtime)(StravaJob("backfill", athlete))
    queue.run_until_idle()
    assert api_requests(sim)[before:][:1] == [ACTIVITIES]
    backfilled_at = connection(runtime, athlete).backfilled_at
    assert backfilled_at is not None
    assert backfilled_at.replace(tzinfo=dt.UTC) == runtime.clock()
