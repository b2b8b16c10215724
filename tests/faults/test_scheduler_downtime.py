"""The scheduler stopped over a week boundary and started again.

Its state lives in the database, so the restarted scheduler finds the week that closed while
it was away, schedules it exactly once, and a second restart schedules nothing more.
"""

from __future__ import annotations

import datetime as dt

import pytest

from strideguard.worker.scheduler import Scheduler
from strideguard.worker.weeks import WEEK, due_at
from tests.faults.world import GRACE, OSLO, WorldFactory

pytestmark = pytest.mark.faults

CLOSING_WEEK = dt.date(2026, 3, 2)


def test_scheduler_stopped_over_a_week_boundary_catches_up_once(
    make_world: WorldFactory,
) -> None:
    # Sunday evening in Oslo: the runners' week has not closed yet.
    sunday_evening = dt.datetime(2026, 3, 8, 19, 0, tzinfo=dt.UTC)
    world = make_world(now=sunday_evening, week=CLOSING_WEEK)
    clock = world.sim.clock
    with world.threads():
        before = Scheduler(world.runtime)
        assert before.tick().scheduled == []  # nothing due yet
        # The scheduler stops, and comes back nine days later, on the Tuesday after next:
        # two weeks fell due meanwhile.
        back = sunday_evening + dt.timedelta(days=9)
        assert due_at(CLOSING_WEEK + WEEK, OSLO, GRACE) < back
        clock.advance((back - sunday_evening).total_seconds())
        after = Scheduler(world.runtime)
        assert sorted(after.tick().scheduled) == sorted(
            (athlete, week)
            for athlete in world.athletes.values()
            for week in (CLOSING_WEEK, CLOSING_WEEK + WEEK)
        )
        world.settle()
        # Restarted once more, later the same week: the week is not news any more.
        clock.advance(dt.timedelta(hours=5).total_seconds())
        assert Scheduler(world.runtime).tick().scheduled == []
    world.assert_nothing_lost()
