"""Two worker processes against one Redis and one PostgreSQL never exceed the Strava budget.

Twenty runners' weeks fall due at once and Strava allows twelve reads per 15 minutes: the
processes share one budget in Redis, so together they judge as many weeks as the window
allows and defer the rest to the next window, with no 429 and no lost week.
"""

from __future__ import annotations

import signal

import pytest
from sqlalchemy import select

from strideguard.integrations.strava.budget import window_index
from strideguard.models import Evaluation
from strideguard.worker.scheduler import Scheduler
from tests.faults.world import RISKY, STEADY, FaultWorld, WorldFactory
from tests.worker.waiting import wait_for, worker_process

pytestmark = pytest.mark.faults

ACTIVITIES = "/api/v3/athlete/activities"
READ_LIMIT = 12
EVALUATION_CAP = 12  # evaluations may use the whole window: what is due is held for them
RUNNERS = {900 + i: (f"Runner {i}", RISKY if i % 2 else STEADY) for i in range(20)}


def outcomes(world: FaultWorld) -> list[tuple[str, str | None]]:
    with world.sessions() as session:
        return [(e.status, e.last_error) for e in session.scalars(select(Evaluation))]


def test_two_worker_processes_share_one_rate_budget(make_world: WorldFactory) -> None:
    world = make_world(runners=RUNNERS, sim_options={"read_limits": (READ_LIMIT, 1000)})
    workers = [worker_process(), worker_process()]
    try:
        assert len(Scheduler(world.runtime).tick().scheduled) == len(RUNNERS)

        def judged_or_deferred() -> bool:
            found = outcomes(world)
            return all(
                status == "done" or (error or "").startswith("deferred:") for status, error in found
            )

        wait_for(judged_or_deferred, what="every week judged or deferred")
        world.settle_mail()
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.wait(60)
    statuses = [status for status, _ in outcomes(world)]
    # The budget, not the work, was the limit: exactly the read limit of each 15-minute
    # window the burst touched was used (one window, unless it ran across a boundary).
    windows = {window_index(r.at) for r in world.sim.requests if r.path == ACTIVITIES}
    judged = min(len(RUNNERS), EVALUATION_CAP * len(windows))
    assert statuses.count("done") == judged
    assert statuses.count("pending") == len(RUNNERS) - judged
    assert [r for r in world.sim.requests if r.status == 429] == []
    world.assert_nothing_lost(deferred_ok=True)
