"""Window refresh, backfill, single-activity sync and retention, against the simulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.mapping import activity_fields, iana_timezone
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.sync import (
    backfill,
    delete_activity,
    purge_expired,
    refresh_window,
    sync_one_activity,
)
from strideguard.models import Activity, Athlete, Gear
from tests.strava.conftest import OTHER, RUNNER, START, connect_directly, run

VARIETY = Path(__file__).parents[1] / "simulator" / "fixtures" / "summary_activities_variety.json"


def _activities(sessions: sessionmaker[Session]) -> dict[int, Activity]:
    with sessions() as session:
        return {a.strava_id: a for a in session.scalars(select(Activity))}


def test_mapping_keeps_the_local_wall_clock_and_only_minimal_fields() -> None:
    recorded = json.loads(VARIETY.read_text())[0]["activity"]  # a real Strava summary
    fields = activity_fields(recorded)
    assert fields["start_date_local"] == dt.datetime(2025, 10, 19, 16, 0)  # not converted
    assert fields["start_date"] == dt.datetime(2025, 10, 19, 20, 0, tzinfo=dt.UTC)
    assert fields["timezone"] == "America/New_York"
    assert fields["distance_m"] == 6765  # 6764.8 m rounded
    assert fields["elevation_gain_dm"] == 340  # 34.0 m
    assert set(fields) == {
        "strava_id", "sport_type", "start_date", "start_date_local", "timezone", "distance_m",
        "moving_time_s", "elevation_gain_dm", "trainer", "manual", "gear_id",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(GMT+01:00) Europe/Oslo", "Europe/Oslo"),
        ("(GMT-08:00) America/Los_Angeles", "America/Los_Angeles"),
        ("(GMT+00:00) Etc/GMT", "Etc/GMT"),
        ("(GMT+01:00) Nowhere/Atlantis", None),
        (None, None),
    ],
)
def test_strava_timezones_become_iana_names(raw: str | None, expected: str | None) -> None:
    assert iana_timezone(raw) == expected


def test_pagination_at_200_per_page_reads_450_activities_in_three_requests(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim, OTHER)
    report = backfill(ctx, athlete_id)
    pages = [r for r in sim.requests if r.path == "/api/v3/athlete/activities"]
    assert len(pages) == 3
    assert report.fetched == 450
    assert report.requests == 3
    assert len(_activities(sessions)) == 450


def test_refresh_updates_changed_rows_deletes_missing_ones_and_is_idempotent(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    sim.delete_activity(RUNNER, 5002)
    sim.update_activity(RUNNER, 5003, distance=21097.5, sport_type="TrailRun")
    first = refresh_window(ctx, athlete_id)
    second = refresh_window(ctx, athlete_id)
    assert first.deleted == 1
    assert second.deleted == 0
    stored = _activities(sessions)
    assert 5002 not in stored
    assert stored[5003].distance_m == 21098
    assert stored[5003].sport_type == "TrailRun"
    assert len(stored) == 20
    assert 4000 not in stored  # ten weeks old: outside the window


def test_window_request_is_one_call_starting_a_day_before_the_lookback(
    ctx: StravaContext, sim: Simulator
) -> None:
    athlete_id = connect_directly(ctx, sim)
    report = refresh_window(ctx, athlete_id)
    assert report.requests == 2  # the window, and the shoe seen for the first time
    again = refresh_window(ctx, athlete_id)
    assert again.requests == 1  # the shoe is known: one request for six weeks


def test_private_runs_and_local_times_are_stored_as_the_rules_need_them(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    refresh_window(ctx, athlete_id)
    stored = _activities(sessions)
    private = stored[5999]
    assert private.distance_m == 12000
    start_utc = START - dt.timedelta(days=3)
    assert private.start_date_local == start_utc.replace(tzinfo=None) + dt.timedelta(hours=1)
    assert private.timezone == "Europe/Oslo"
    assert private.elevation_gain_dm == 454
    assert private.gear_id == "g77"


def test_timezone_follows_the_latest_activity_unless_locked(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.add_activity(
        RUNNER,
        run(7000, START - dt.timedelta(hours=3), offset_h=-5, tz="(GMT-05:00) America/New_York"),
    )
    refresh_window(ctx, athlete_id)
    with sessions() as session:
        assert session.get_one(Athlete, athlete_id).timezone == "America/New_York"
    with sessions.begin() as session:
        athlete = session.get_one(Athlete, athlete_id)
        athlete.timezone, athlete.timezone_locked = "Europe/Paris", True
    refresh_window(ctx, athlete_id)
    with sessions() as session:
        assert session.get_one(Athlete, athlete_id).timezone == "Europe/Paris"


def _shoe(sessions: sessionmaker[Session]) -> Gear:
    with sessions() as session:
        return session.scalars(select(Gear)).one()


def test_gear_is_read_once_then_carried_forward_from_our_own_rows(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    assert refresh_window(ctx, athlete_id).gear_fetched == ["g77"]
    shoe = _shoe(sessions)
    assert (shoe.strava_gear_id, shoe.distance_m, shoe.name) == ("g77", 412346, "Trail shoe")
    # a week later: two new runs in that shoe, counted without asking Strava about the shoe
    sim.clock.advance(7 * 24 * 3600)
    sim.add_activity(RUNNER, run(7200, sim.clock.now() - dt.timedelta(days=2), distance=20000))
    sim.add_activity(RUNNER, run(7201, sim.clock.now() - dt.timedelta(days=1), distance=10500))
    sim.add_activity(RUNNER, run(7202, sim.clock.now(), distance=9999, gear_id=None))
    report = refresh_window(ctx, athlete_id)
    assert report.gear_fetched == []
    assert report.requests == 1
    assert _shoe(sessions).distance_m == 412346 + 30500
    assert refresh_window(ctx, athlete_id).gear_fetched == []  # nothing counted twice
    assert _shoe(sessions).distance_m == 412346 + 30500
    # refreshes lapsed for longer than the window: our rows cannot bridge the gap
    sim.clock.advance(8 * 7 * 24 * 3600)
    sim.add_activity(RUNNER, run(7300, sim.clock.now(), distance=5000))
    assert refresh_window(ctx, athlete_id).gear_fetched == ["g77"]
    assert _shoe(sessions).distance_m == 412346  # Strava's figure (the simulator's is fixed)


def test_single_activity_sync_and_delete(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.add_activity(RUNNER, run(7100, START - dt.timedelta(hours=1), distance=5000))
    assert sync_one_activity(ctx, athlete_id, 7100) is True
    assert _activities(sessions)[7100].distance_m == 5000
    assert sync_one_activity(ctx, athlete_id, 7100) is True  # twice is harmless
    sim.delete_activity(RUNNER, 7100)
    assert sync_one_activity(ctx, athlete_id, 7100) is False  # gone on Strava: gone here
    assert 7100 not in _activities(sessions)
    assert delete_activity(sessions, 7100) is False


def test_purge_drops_activities_older_than_retention(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    removed = purge_expired(sessions, 7, START)
    remaining = _activities(sessions)
    cutoff = START - dt.timedelta(days=7)
    assert removed == 21 - len(remaining)
    assert remaining
    assert all(a.start_date.replace(tzinfo=dt.UTC) >= cutoff for a in remaining.values())
    assert purge_expired(sessions, 7, START) == 0


def test_a_shoe_that_cannot_be_read_waits_for_the_next_refresh(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.fail_next("/api/v3/gear/", 503)
    report = refresh_window(ctx, athlete_id)
    assert report.fetched == 21  # the window is stored all the same
    assert report.gear_fetched == []
    assert len(_activities(sessions)) == 21
    assert refresh_window(ctx, athlete_id).gear_fetched == ["g77"]
