"""A crowd of new runners under a tight Strava budget: every runner's activities first, shoes
later at background priority.

The simulator serves Strava over HTTP with a small read limit (5 per 15 minutes), the jobs
send real messages to the real Redis broker, and the test runs them in order on a frozen
clock (tests/worker/sync_queue.py), moving to the next window whenever all work is deferred.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from integrations.strava.budget import WINDOW_S
from integrations.strava.jobs import StravaJob
from integrations.strava.simulator import SimClock, Simulator
from integrations.strava.tokens import store_grant
from strideguard.models import Athlete, Gear, StravaConnection
from strideguard.settings import Settings
from tests.worker.strava_history import CLIENT_ID, CLIENT_SECRET, OSLO_OFFSET, activity
from tests.worker.sync_queue import QueueRunner
from worker import sync_jobs
from worker.runtime import WorkerRuntime, start_runtime
from worker.webhook_jobs import strava_enqueue

NOW = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)  # a Wednesday, on a window boundary
READ_LIMIT = 5  # per 15 minutes: the backfill share (95 %) is 4 reads, the background one 3
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
