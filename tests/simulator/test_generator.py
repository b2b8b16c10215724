"""Generated histories: Strava's format, real time zones, variety, and the planted demo weeks.

The rule checks here are computed directly from RULES.md's definitions, independently of the
rules package, so the demo data is known to contain its patterns whatever the engine does.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import SimClock, Simulator, generate_history
from strideguard.integrations.strava.simulator.generator import generate_seed
from strideguard.integrations.strava.simulator.seedfile import SeedError, load_seed, write_seed
from tests.simulator.conftest import recorded_activities

DEMO_END = date(2025, 10, 19)  # a Sunday
RUNNING = {"Run", "TrailRun", "VirtualRun"}
# Standard (winter) offsets, which Strava's label shows all year round.
STANDARD_LABEL = {
    "Europe/Oslo": "(GMT+01:00)", "America/New_York": "(GMT-05:00)",
    "America/Los_Angeles": "(GMT-08:00)", "Asia/Tokyo": "(GMT+09:00)",
    "Australia/Sydney": "(GMT+10:00)", "America/Sao_Paulo": "(GMT-03:00)",
    "Europe/London": "(GMT+00:00)", "Asia/Kolkata": "(GMT+05:30)",
    "America/Denver": "(GMT-07:00)", "Pacific/Auckland": "(GMT+12:00)",
    "Africa/Nairobi": "(GMT+03:00)", "Europe/Berlin": "(GMT+01:00)",
}  # fmt: skip


def _day(activity: dict[str, Any]) -> date:
    return date.fromisoformat(str(activity["start_date_local"])[:10])


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


class Weeks:
    """Per-week figures exactly as RULES.md defines them (integer metres, local days)."""

    def __init__(self, activities: list[dict[str, Any]]) -> None:
        self.activities = activities
        self.first = _monday(min(_day(a) for a in activities))
        self.run_m: dict[date, int] = defaultdict(int)
        self.outdoor_m: dict[date, int] = defaultdict(int)
        self.gain_m: dict[date, float] = defaultdict(float)
        self.strength_days: dict[date, set[date]] = defaultdict(set)
        self.run_days: set[date] = set()
        self.hard_days: set[date] = set()
        self.runs: list[tuple[date, int]] = []
        for a in activities:
            day, week = _day(a), _monday(_day(a))
            if a["sport_type"] in RUNNING:
                self.run_m[week] += round(a["distance"])
                self.run_days.add(day)
                self.runs.append((day, round(a["distance"])))
            if a["sport_type"] in ("Run", "TrailRun") and not a["trainer"]:
                self.outdoor_m[week] += round(a["distance"])
                self.gain_m[week] += a["total_elevation_gain"]
            if a["sport_type"] == "Run" and not a["trainer"] and not a["manual"]:
                self.hard_days.add(day)
            if a["sport_type"] in ("WeightTraining", "Crossfit") and a["moving_time"] >= 600:
                self.strength_days[week].add(day)

    def week(self, index: int) -> date:
        return self.first + timedelta(weeks=index)

    def spike(self, week: date) -> bool:
        prior = [self.run_m[week - timedelta(weeks=k)] for k in range(1, 5)]
        if week - timedelta(weeks=4) < self.first or sum(prior) < 4 * 5000:
            return False
        return 100 * (4 * self.run_m[week] - sum(prior)) > 30 * sum(prior)

    def hilly(self, week: date) -> bool:
        outdoor, gain = self.outdoor_m[week], self.gain_m[week]
        return outdoor >= 10_000 and gain >= 300 and gain / (outdoor / 1000) > 15

    def longest_streak_ending_in(self, week: date) -> int:
        longest = 0
        for offset in range(7):
            day, streak = week + timedelta(days=offset), 0
            while day - timedelta(days=streak) in self.hard_days:
                streak += 1
            longest = max(longest, streak)
        return longest

    def single_run_spike(self, week: date) -> bool:
        for day, metres in self.runs:
            if _monday(day) != week:
                continue
            prior = [m for d, m in self.runs if day - timedelta(days=30) <= d < day]
            if prior and 100 * (metres - max(prior)) > 10 * max(prior):
                return True
        return False

    def rest_days(self, week: date) -> int:
        return sum(1 for k in range(7) if week + timedelta(days=k) not in self.run_days)

    def quiet(self, week: date) -> bool:
        return not (
            self.spike(week)
            or self.single_run_spike(week)
            or self.hilly(week)
            or self.longest_streak_ending_in(week) > 5
            or len(self.strength_days[week]) < 2
            or self.rest_days(week) < 1
        )


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return generate_history(7, 16, tz="Europe/Oslo", end=DEMO_END, scenario="demo")


def test_demo_history_contains_every_planted_pattern(demo: dict[str, Any]) -> None:
    weeks = Weeks(demo["activities"])
    assert weeks.week(15) == _monday(DEMO_END)
    assert weeks.week(0) == _monday(DEMO_END) - timedelta(weeks=15)
    spike = [i for i in range(16) if weeks.spike(weeks.week(i))]
    assert spike == [9]
    pct = 100 * (
        4 * weeks.run_m[weeks.week(9)] / sum(weeks.run_m[weeks.week(i)] for i in range(5, 9)) - 1
    )
    assert pct > 30
    assert [i for i in range(16) if weeks.hilly(weeks.week(i))] == [11]
    assert weeks.longest_streak_ending_in(weeks.week(13)) >= 6
    assert [i for i in range(16) if not weeks.strength_days[weeks.week(i)]] == [12, 14]


def test_demo_history_has_quiet_weeks_that_trigger_nothing(demo: dict[str, Any]) -> None:
    weeks = Weeks(demo["activities"])
    quiet = [i for i in range(16) if weeks.quiet(weeks.week(i))]
    assert 15 in quiet
    assert 5 in quiet
    assert not {9, 11, 12, 13, 14} & set(quiet)
    # week 15 has two strength sessions on one day, which still count as one day
    strength_15 = [
        a for a in demo["activities"]
        if a["sport_type"] == "WeightTraining" and _monday(_day(a)) == weeks.week(15)
    ]  # fmt: skip
    assert len(strength_15) == 3
    assert len(weeks.strength_days[weeks.week(15)]) == 2


def test_generated_activities_have_the_fields_strava_sends() -> None:
    recorded = recorded_activities()
    outdoor_keys = set(recorded[0]) - {"average_temp"}  # a temperature needs a sensor
    history = generate_seed(12, 8, end=DEMO_END)
    activities = [a for entry in history for a in entry["activities"]]
    runs = [
        a for a in activities if a["sport_type"] == "Run" and not a["trainer"] and not a["manual"]
    ]
    assert runs
    for run in runs:
        assert outdoor_keys <= set(run)
        assert run["map"]["summary_polyline"]
        assert len(run["start_latlng"]) == 2
    for activity in activities:
        assert set(activity) <= set(recorded[0]) | {"upload_id_str"}
        assert activity["athlete"]["id"] == activity["id"] // 100_000 - 100_000


def test_start_dates_and_zone_labels_agree_for_zones_east_and_west() -> None:
    activities = [a for e in generate_seed(12, 30, end=DEMO_END) for a in e["activities"]]
    offsets = {a["utc_offset"] for a in activities}
    assert min(offsets) < 0 < max(offsets)
    for a in activities:
        label, zone_name = a["timezone"].split(" ", 1)
        start = datetime.fromisoformat(a["start_date"])
        local_wall = datetime.fromisoformat(a["start_date_local"].removesuffix("Z"))
        local = start.astimezone(ZoneInfo(zone_name))
        assert local.replace(tzinfo=None) == local_wall
        assert a["start_date_local"].endswith("Z")  # Strava's misleading suffix
        assert local.utcoffset() == timedelta(seconds=a["utc_offset"])
        assert label == STANDARD_LABEL[zone_name]
    oslo_summer = [
        a for a in activities if "Europe/Oslo" in a["timezone"] and a["start_date"][5:7] == "08"
    ]
    assert oslo_summer
    assert {(a["timezone"], a["utc_offset"]) for a in oslo_summer} == {
        ("(GMT+01:00) Europe/Oslo", 7200.0)
    }


def test_histories_mix_trail_treadmill_virtual_strength_and_rest() -> None:
    activities = [a for e in generate_seed(12, 16, end=DEMO_END) for a in e["activities"]]
    kinds = {(a["sport_type"], a["trainer"]) for a in activities}
    assert {("Run", False), ("Run", True), ("TrailRun", False), ("VirtualRun", False)} <= kinds
    assert any(a["sport_type"] == "WeightTraining" for a in activities)
    by_day: dict[tuple[int, date], int] = defaultdict(int)
    for a in activities:
        if a["sport_type"] == "WeightTraining":
            by_day[(a["athlete"]["id"], _day(a))] += 1
    assert max(by_day.values()) == 2  # some days have two strength sessions
    assert any(a["manual"] for a in activities)
    assert any(a["visibility"] == "only_me" for a in activities)
    trail_gain = [
        a["total_elevation_gain"] / a["distance"] * 1000
        for a in activities
        if a["sport_type"] == "TrailRun"
    ]
    road_gain = [
        a["total_elevation_gain"] / a["distance"] * 1000
        for a in activities
        if a["sport_type"] == "Run" and not a["trainer"] and a["distance"]
    ]
    assert sum(trail_gain) / len(trail_gain) > 2 * sum(road_gain) / len(road_gain)
    treadmill = [a for a in activities if a["sport_type"] == "Run" and a["trainer"]]
    assert all(a["total_elevation_gain"] == 0 and a["start_latlng"] == [] for a in treadmill)


def test_gear_distance_covers_the_runs_assigned_to_it() -> None:
    entry = generate_history(3, 12, end=DEMO_END, seed=11)
    for shoe in entry["gear"]:
        run_m = sum(a["distance"] for a in entry["activities"] if a["gear_id"] == shoe["id"])
        assert shoe["distance"] >= int(run_m)
        assert shoe["converted_distance"] == round(shoe["distance"] / 1000, 1)


def test_same_seed_same_history_and_nothing_after_end() -> None:
    end = date(2025, 10, 15)  # a Wednesday: the last week is partial
    one = generate_history(5, 6, end=end, seed=3, tz="America/Los_Angeles")
    assert one == generate_history(5, 6, end=end, seed=3, tz="America/Los_Angeles")
    assert max(_day(a) for a in one["activities"]) <= end
    starts = [a["start_date"] for a in one["activities"]]
    assert starts == sorted(starts, reverse=True)


def test_bad_arguments_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="at least 16 weeks"):
        generate_history(1, 8, scenario="demo")
    with pytest.raises(ValueError, match="unknown profile"):
        generate_history(1, 8, profile="couch")
    with pytest.raises(Exception, match="Mars"):
        generate_history(1, 8, tz="Mars/Olympus_Mons")


def test_generated_seed_is_served_and_parsed_by_stravalib(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    write_seed(generate_seed(3, 6, end=DEMO_END, seed=2), path)
    entries = load_seed(path)
    clock = SimClock(datetime(2025, 10, 20, tzinfo=UTC), ticking=False)
    with Simulator(entries, clock=clock) as sim:
        for entry in entries:
            athlete_id = entry["athlete"]["id"]
            client = make_client(sim.base_url, sim.issue_tokens(athlete_id)["access_token"])
            listed = list(client.get_activities())
            assert len(listed) == len(entry["activities"])
            assert {a.sport_type.root for a in listed if a.sport_type} <= RUNNING | {
                "WeightTraining"
            }


def test_seed_file_errors_name_the_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"athlete": {"id": 1},\n "activities": [}]')
    with pytest.raises(SeedError, match=r"broken.json:2:\d+: not JSON"):
        load_seed(broken)
    missing = tmp_path / "missing.json"
    run = {k: v for k, v in recorded_activities()[0].items() if k != "start_date"}
    missing.write_text(json.dumps([{"athlete": {"id": 9}, "activities": [run]}]))
    with pytest.raises(SeedError, match=r"athlete 9: activities\[0\] .*start_date None"):
        load_seed(missing)


def test_generating_a_population_reports_progress_per_runner() -> None:
    """What `strava-sim generate` and `rules backtest --population` draw their bars from."""
    done: list[int] = []
    entries = generate_seed(3, 2, end=DEMO_END, progress=done.append)
    assert done == [1, 2, 3]
    assert len(entries) == 3


def test_without_routes_activities_come_without_gps() -> None:
    """For backtests of large populations: the GPS loops are most of the generation time."""
    with_routes = generate_seed(2, 4, end=DEMO_END, seed=5)
    without = generate_seed(2, 4, end=DEMO_END, seed=5, routes=False)
    assert any(a["map"]["summary_polyline"] for e in with_routes for a in e["activities"])
    bare = [a for e in without for a in e["activities"]]
    assert len(bare) > 20
    assert not any(a["map"]["summary_polyline"] or a["start_latlng"] for a in bare)
    assert sum(a["distance"] for a in bare) > 0
