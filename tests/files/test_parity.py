"""A year of a runner's training read from files gives the rules the same inputs, and the
same findings, as the same runs read from Strava's JSON."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from strideguard.cli.activity_files import to_record
from strideguard.integrations.files import FileActivity, read_export
from strideguard.integrations.strava.mapping import from_strava_summary
from strideguard.integrations.strava.simulator.generator import generate_history
from strideguard.rules import ActivityRecord, Finding, GearRecord, evaluate_all, load_config
from strideguard.rules.config import SHIPPED_RULES
from tests.files.exports import write_export

END = dt.date(2026, 11, 29)  # a Sunday


def _record(activity: FileActivity, gear_ids: dict[str, str]) -> ActivityRecord:
    """The CLI's conversion, with the athlete and Strava's gear id a stored row would carry."""
    record = to_record(activity)
    return dataclasses.replace(record, athlete_id=1, gear_id=gear_ids.get(record.gear_id or ""))


@pytest.mark.parametrize(
    ("tz", "profile"), [("Europe/Oslo", "marathon"), ("America/Denver", "mountain")]
)
def test_52_weeks_from_files_match_the_strava_json(tmp_path: Path, tz: str, profile: str) -> None:
    history = generate_history(7, 52, tz=tz, seed=11, end=END, profile=profile)
    export = write_export(history, tmp_path / "export.zip")
    report = read_export(export, athlete_zone=ZoneInfo(tz))
    assert report.problems == []

    gear_ids = {shoe["name"]: shoe["id"] for shoe in history["gear"]}
    from_json = {
        a.activity_id: dataclasses.replace(a, athlete_id=1)
        for a in map(from_strava_summary, history["activities"])
    }
    from_files = {a.strava_id: _record(a, gear_ids) for a in report.activities}
    assert from_files.keys() == from_json.keys()
    for ident, strava in from_json.items():
        mine = from_files[ident]
        assert abs(mine.distance_m - strava.distance_m) <= 1, ident
        assert abs(mine.moving_time_s - strava.moving_time_s) <= 1, ident
        assert abs(mine.elevation_gain_dm - strava.elevation_gain_dm) <= 5, ident  # FIT: whole m
        same = ("sport_type", "start_date", "start_date_local", "trainer", "manual", "gear_id")
        assert [getattr(mine, f) for f in same] == [getattr(strava, f) for f in same], ident

    config = load_config(SHIPPED_RULES)
    gear = {shoe["id"]: GearRecord(int(shoe["distance"]), shoe["name"]) for shoe in history["gear"]}
    expected = evaluate_all(from_json.values(), config, gear=gear)
    found = evaluate_all(from_files.values(), config, gear=gear)
    assert [_verdict(f) for f in found] == [_verdict(f) for f in expected]
    for got, want in zip(found, expected, strict=True):
        # FIT states its ascent in whole metres, so a gain ratio may differ in its last digit
        if want.value is None:
            assert got.value is None
        else:
            assert got.value == pytest.approx(want.value, rel=0.01, abs=0.02, nan_ok=True)
    assert sum(f.fired for f in expected) >= 3  # the comparison covers real alerts


def _verdict(finding: Finding) -> tuple[object, ...]:
    return (
        finding.rule,
        finding.week_start,
        finding.status,
        finding.activity_id,
        finding.date,
        finding.band,
    )
