"""FIT, GPX and TCX files, plain and gzip, read into the figures the rules use."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fit_tool.profile.profile_type import Sport, SubSport

from strideguard.integrations.files import Detail, FileActivity, read_activity_file
from tests.files.writers import RunSpec, fit_bytes, gpx_bytes, tcx_bytes, write

START = dt.datetime(2026, 5, 4, 5, 30, tzinfo=dt.UTC)  # 07:30 in Oslo (CEST)
RUN = RunSpec(START, 10_012.3, 3000, pause_s=300, gain_m=48.4)
WRITERS = {".fit": fit_bytes, ".gpx": gpx_bytes, ".tcx": tcx_bytes}


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("suffix", [".fit", ".gpx", ".tcx"])
def test_each_format_gives_the_rule_inputs(tmp_path: Path, suffix: str, gzipped: bool) -> None:
    name = "run" + suffix + (".gz" if gzipped else "")
    path = write(tmp_path / name, WRITERS[suffix](RUN), gzipped)
    activity = read_activity_file(path, athlete_zone=None)
    assert activity.sport_type == "Run"
    assert activity.start_date == START
    assert activity.start_date_local == dt.datetime(2026, 5, 4, 7, 30)  # zone of the first point
    assert activity.timezone == "Europe/Oslo"
    assert activity.distance_m == 10_012
    assert activity.moving_time_s == 3000  # the 5-minute stand at the end is not moving
    assert abs(activity.elevation_gain_dm - 484) <= 5  # FIT states whole metres
    assert activity.device == "Forerunner 265"
    assert not activity.trainer
    assert activity.detail == (Detail.DEVICE if suffix == ".fit" else Detail.TRACK)


def _no_gps_fields(activity: FileActivity) -> None:
    assert not {"lat", "lon", "points", "track", "latlng"} & set(FileActivity.__slots__)


def test_no_gps_leaves_the_reader(tmp_path: Path) -> None:
    activity = read_activity_file(write(tmp_path / "r.gpx", gpx_bytes(RUN)), athlete_zone=None)
    _no_gps_fields(activity)


def test_fit_local_timestamp_beats_the_track_zone(tmp_path: Path) -> None:
    # A watch set to UTC+9 in Oslo: the wall clock the runner saw is the device's.
    spec = RunSpec(START, 5000.0, 1500, local_offset=dt.timedelta(hours=9))
    activity = read_activity_file(write(tmp_path / "r.fit", fit_bytes(spec)), athlete_zone=None)
    assert activity.start_date_local == dt.datetime(2026, 5, 4, 14, 30)


def test_indoor_file_falls_back_to_the_athletes_zone(tmp_path: Path) -> None:
    spec = RunSpec(START, 8000.0, 2400, origin=None)
    path = write(tmp_path / "t.fit", fit_bytes(spec, Sport.RUNNING, SubSport.TREADMILL))
    activity = read_activity_file(path, athlete_zone=ZoneInfo("America/New_York"))
    assert activity.start_date_local == dt.datetime(2026, 5, 4, 1, 30)
    assert activity.timezone == "America/New_York"
    assert activity.trainer
    assert activity.distance_m == 8000
    assert activity.moving_time_s == 2400


def test_virtual_run_ignores_the_game_worlds_position(tmp_path: Path) -> None:
    spec = RunSpec(START, 6000.0, 1800, origin=(-11.64, 166.95))  # Watopia, in the Pacific
    path = write(tmp_path / "z.fit", fit_bytes(spec, Sport.RUNNING, SubSport.VIRTUAL_ACTIVITY))
    activity = read_activity_file(path, athlete_zone=ZoneInfo("Europe/Berlin"))
    assert activity.sport_type == "VirtualRun"
    assert activity.start_date_local == dt.datetime(2026, 5, 4, 7, 30)


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected", "trainer"),
    [
        (Sport.RUNNING, SubSport.TRAIL, "TrailRun", False),
        (Sport.RUNNING, SubSport.TREADMILL, "Run", True),
        (Sport.WALKING, SubSport.GENERIC, "Walk", False),
        (Sport.HIKING, SubSport.GENERIC, "Hike", False),
        (Sport.TRAINING, SubSport.STRENGTH_TRAINING, "WeightTraining", True),
    ],
)
def test_fit_sports_map_to_strava_sport_types(
    tmp_path: Path, sport: Sport, sub_sport: SubSport, expected: str, trainer: bool
) -> None:
    path = write(tmp_path / "a.fit", fit_bytes(RUN, sport, sub_sport))
    activity = read_activity_file(path, athlete_zone=None)
    assert (activity.sport_type, activity.trainer) == (expected, trainer)


def test_strength_session_without_records_uses_the_timer(tmp_path: Path) -> None:
    spec = RunSpec(START, 0.0, 2700, origin=None)
    path = write(tmp_path / "s.fit", fit_bytes(spec, Sport.TRAINING, SubSport.STRENGTH_TRAINING))
    activity = read_activity_file(path, athlete_zone=ZoneInfo("Europe/Oslo"))
    assert (activity.sport_type, activity.distance_m, activity.moving_time_s) == (
        "WeightTraining",
        0,
        2700,
    )


@pytest.mark.parametrize(
    ("track_type", "expected"),
    [
        ("running", "Run"),
        ("trail_running", "TrailRun"),
        ("9", "Run"),
        ("hiking", "Hike"),
        (None, "Run"),
    ],
)
def test_gpx_types(tmp_path: Path, track_type: str | None, expected: str) -> None:
    path = write(tmp_path / "a.gpx", gpx_bytes(RUN, track_type))
    assert read_activity_file(path, athlete_zone=None).sport_type == expected


def test_tcx_laps_without_a_track_read_from_the_lap_totals(tmp_path: Path) -> None:
    path = write(tmp_path / "laps.tcx", tcx_bytes(RUN, track=False))
    activity = read_activity_file(path, athlete_zone=ZoneInfo("Europe/Oslo"))
    assert (activity.distance_m, activity.moving_time_s, activity.detail) == (
        10_012,
        3000,
        Detail.SUMMARY,
    )


def test_fingerprint_is_the_same_plain_or_gzip(tmp_path: Path) -> None:
    plain = read_activity_file(write(tmp_path / "a.fit", fit_bytes(RUN)), athlete_zone=None)
    packed = read_activity_file(
        write(tmp_path / "b.fit.gz", fit_bytes(RUN), True), athlete_zone=None
    )
    other = RunSpec(START + dt.timedelta(days=1), 10_012.3, 3000)
    different = read_activity_file(write(tmp_path / "c.fit", fit_bytes(other)), athlete_zone=None)
    assert plain.fingerprint == packed.fingerprint != different.fingerprint


def test_track_zone_beats_the_athletes_zone(tmp_path: Path) -> None:
    # a race in Tokyo for a runner who lives in Oslo: the day is Tokyo's
    spec = RunSpec(START, 5000.0, 1500, origin=(35.6762, 139.6503))
    activity = read_activity_file(
        write(tmp_path / "t.gpx", gpx_bytes(spec)), athlete_zone=ZoneInfo("Europe/Oslo")
    )
    assert (activity.timezone, activity.start_date_local) == (
        "Asia/Tokyo",
        dt.datetime(2026, 5, 4, 14, 30),
    )
