"""Strava misbehaving: 5xx storms and timeouts, a 429 halfway through a backfill, and access
revoked halfway through a sync.

Two worker processes racing to rotate the same refresh token is
tests/strava/test_tokens.py::test_two_processes_refreshing_at_once_keep_the_connection, marked
`faults` and ending with the same check.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from strideguard.integrations.strava.budget import ms_to_next_window
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.simulator.app import SimRequest, SimResponse
from strideguard.integrations.strava.webhook_jobs import strava_enqueue
from strideguard.models import Activity, StravaConnection
from tests.faults.world import FOREIGN, FaultWorld, WorldFactory
from tests.worker.strava_history import OSLO_OFFSET, activity
from tests.worker.waiting import wait_for

pytestmark = pytest.mark.faults

ACTIVITIES = "/api/v3/athlete/activities"


class CuedStrava(Simulator):
    """Runs `cue` once, right after it has prepared the first page of an activity listing and
    before the client receives it: something happens on Strava's side between two pages."""

    cue: Callable[[], None] | None = None

    def handle(self, req: SimRequest) -> SimResponse:
        response = super().handle(req)
        cue = self.cue
        if cue is not None and req.path == ACTIVITIES and req.get("page") == "1":
            self.cue = None
            cue()
        return response


def walks(world: FaultWorld, strava_id: int, count: int) -> list[dict[str, Any]]:
    """`count` short walks, one every two hours back from now: three pages of history."""
    now_local = world.sim.clock.now().replace(tzinfo=None) + OSLO_OFFSET
    return [
        activity(
            strava_id * 10_000 + i,
            now_local - dt.timedelta(hours=2 * (i + 1)),
            distance_m=1500,
            sport="Walk",
            moving_time_s=1200,
            gain_m=2,
        )
        for i in range(count)
    ]


def connection(world: FaultWorld, strava_id: int) -> StravaConnection:
    with world.sessions() as session:
        return session.scalars(
            select(StravaConnection).where(StravaConnection.athlete_id == world.athletes[strava_id])
        ).one()


def backfill(world: FaultWorld, strava_id: int) -> None:
    strava_enqueue(world.runtime)(StravaJob("backfill", world.needs_backfill(strava_id)))


def test_5xx_storm_and_timeouts_delay_syncs_and_evaluations_and_lose_nothing(
    make_world: WorldFactory,
) -> None:
    # Six failures in a row may all land on one job: allow it more attempts than that.
    world = make_world(JOB_MAX_ATTEMPTS="8")
    world.sim.fail_next(ACTIVITIES, 503, count=3)
    world.sim.fail_next(ACTIVITIES, 502, count=1)
    world.sim.timeout_next(ACTIVITIES, count=2, hold_s=1)
    with world.threads():
        backfill(world, 812)
        world.settle()
    statuses = Counter(r.status for r in world.sim.requests if r.path == ACTIVITIES)
    assert (statuses[503], statuses[502], statuses[0]) == (3, 1, 2)  # the storm happened
    assert connection(world, 812).backfilled_at is not None
    world.assert_nothing_lost()


def test_429_halfway_through_a_backfill_defers_it_to_the_next_window(
    make_world: WorldFactory,
) -> None:
    world = make_world(
        now=dt.datetime(2026, 3, 4, 10, 1, tzinfo=dt.UTC),
        sim_class=CuedStrava,
        sim_options={"read_limits": (20, 1000)},
    )
    sim = world.sim
    assert isinstance(sim, CuedStrava)
    world.add_activities(812, walks(world, 812, 420))
    stranger = sim.issue_tokens(FOREIGN)["access_token"]

    def another_app_spends_the_window() -> None:
        while sim.rate_usage()["read_15min"] < 20:
            sim.handle(SimRequest("GET", "/api/v3/athlete", {}, bearer=stranger))

    sim.cue = another_app_spends_the_window
    with world.threads():
        backfill(world, 812)
        wait_for(lambda: any(r.status == 429 for r in sim.requests), what="Strava to answer 429")
        time.sleep(1)  # the reconciler and retries would send more now, if they ever did
        deferred = connection(world, 812)
        assert deferred.backfilled_at is None
        assert deferred.sync_attempts == 0  # a deferral is not a failed attempt
        pages = [r for r in sim.requests if r.path == ACTIVITIES]
        assert [r.status for r in pages] == [200, 429]
        with world.sessions() as session:
            assert (
                session.scalars(select(Activity.strava_id)).all() == []
            )  # page 1 not half-written
        now = world.runtime.clock()
        sim.clock.advance(ms_to_next_window(now) / 1000 + 1)
        world.settle()
    assert connection(world, 812).backfilled_at is not None
    world.assert_nothing_lost(foreign_athletes={FOREIGN})


def test_access_revoked_halfway_through_a_sync_stops_it_cleanly(
    make_world: WorldFactory,
) -> None:
    world = make_world(sim_class=CuedStrava)
    sim = world.sim
    assert isinstance(sim, CuedStrava)
    world.add_activities(811, walks(world, 811, 420))
    sim.cue = lambda: sim.revoke(811)
    with world.threads():
        backfill(world, 811)
        wait_for(lambda: connection(world, 811).status == "revoked", what="the revocation")
        world.settle()
    revoked = connection(world, 811)
    assert revoked.sync_requested_at is None  # not retried: it can never succeed
    assert "refused" in (revoked.last_error or "")
    listed = [r.status for r in sim.requests if r.path == ACTIVITIES and r.athlete_id != 812]
    assert listed.count(401) == 1  # one 401, one refused refresh, and nothing after it
    with world.sessions() as session:
        stored = session.scalars(
            select(Activity.strava_id).where(Activity.athlete_id == world.athletes[811])
        ).all()
    assert stored == []  # the first page was not half-written
    world.assert_nothing_lost()
