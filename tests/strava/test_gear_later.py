"""Shoes after activities: the backfill reads the window alone, the shoes come later at
background priority, and a shoe not read yet is unknown to the rules, never 0 km."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard import rules
from strideguard.gear import load_gear
from strideguard.integrations.strava.budget import ms_to_next_window
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.integrations.strava.mapping import record_fields
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.sync import backfill, read_unknown_gear, refresh_window
from strideguard.models import Activity, Gear, StravaConnection
from strideguard.worker.ports import Priority
from tests.strava.conftest import OTHER, connect_directly

GEAR = "/api/v3/gear/"
SHOE_M = 412346  # the simulator's "Trail shoe" g77, 412,345.6 m
LAST_FULL_WEEK = dt.date(2026, 2, 23)  # the Monday before START's week; every run in g77


def gear_requests(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.path.startswith(GEAR))


def shoes(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {g.strava_gear_id: g.distance_m for g in session.scalars(select(Gear))}


def spend(ctx: StravaContext, priority: Priority) -> None:
    """Use this window's budget up to what `priority` may take (another process did)."""
    now = ctx.clock()
    try:
        while True:
            ctx.budget.reserve(priority, now)
    except BudgetExceeded:
        return


def test_backfill_reads_the_window_alone_and_names_the_shoes_it_left(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    report = backfill(ctx, athlete_id)
    assert report.requests == 1
    assert report.gear_unread == ["g77"]
    assert gear_requests(sim) == 0
    assert shoes(sessions) == {}  # no placeholder row: the shoe is unknown, not 0 km
    with sessions() as session:
        assert len(session.scalars(select(Activity)).all()) == 21
        assert session.scalars(select(StravaConnection)).one().backfilled_at is not None


def test_unread_shoes_are_read_later_within_the_background_share(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    runner = connect_directly(ctx, sim)
    backfill(ctx, runner)
    spend(ctx, Priority.BACKGROUND)  # 60 of this window's 100 reads are gone
    with pytest.raises(BudgetExceeded) as deferred:
        read_unknown_gear(ctx, runner)
    assert deferred.value.retry_after_ms == ms_to_next_window(ctx.clock())
    assert gear_requests(sim) == 0
    # What the background share cannot take is still there for a new runner's backfill.
    assert backfill(ctx, connect_directly(ctx, sim, OTHER)).fetched == 450
    sim.clock.advance(deferred.value.retry_after_ms / 1000)
    assert read_unknown_gear(ctx, runner) == ["g77"]
    assert shoes(sessions) == {"g77": SHOE_M}
    assert read_unknown_gear(ctx, runner) == []  # known now: no second request
    assert gear_requests(sim) == 1


def test_a_refresh_reads_a_shoe_the_backfill_left_unread(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    report = refresh_window(ctx, athlete_id)  # e.g. the first evaluation, before the shoe job
    assert report.gear_fetched == ["g77"]
    assert report.gear_unread == []
    assert shoes(sessions) == {"g77": SHOE_M}
    # One request per window and one per shoe, as when the backfill read the shoe itself.
    assert len([r for r in sim.requests if r.path.startswith("/api/v3/")]) == 3


def test_a_shoe_not_read_yet_leaves_the_shoe_rule_unjudged_until_it_is_read(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    window = backfill(ctx, athlete_id).activities
    config = rules.load_config()
    strict = {"shoe_mileage": {"limit_m": 400_000}}  # g77's 412 km is over this limit

    def shoe_finding() -> rules.Finding:
        with sessions() as session:
            gear = load_gear(session, athlete_id)  # what the evaluation hands the rules
        activities = [
            rules.ActivityRecord(athlete_id=athlete_id, **record_fields(f)) for f in window
        ]
        findings = rules.evaluate_week(activities, LAST_FULL_WEEK, config, strict, gear)
        return next(f for f in findings if f.rule == "shoe_mileage")

    unread = shoe_finding()
    assert unread.status == "no_baseline"  # not judged: neither "clear" nor an alert
    assert unread.figures["gear_id"] is None
    read_unknown_gear(ctx, athlete_id)
    read = shoe_finding()
    assert read.status == "fired"
    assert read.figures["gear_id"] == "g77"
    assert read.value == SHOE_M
