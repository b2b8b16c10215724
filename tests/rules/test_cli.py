"""`strideguard rules check|evaluate|backtest` as scripts and admins call them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.rules.config import SHIPPED_RULES

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()
REQUIRED_KEYS = {"rule", "week_start", "status", "value", "threshold", "activity_id", "date"}


def invoke(*args: str) -> Any:
    return runner.invoke(app, ["rules", *args])


def broken_rules(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(
        SHIPPED_RULES.read_text()
        .replace("severity: warning", "severity: urgent", 1)
        .replace("prior_sum(run_m, baseline_weeks)", "prior_sum(run_km, baseline_weeks)")
    )
    return path


# ---------------------------------------------------------------- check


def test_check_valid_default_file() -> None:
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().startswith(f"{SHIPPED_RULES}: OK, 12 rules (9 enabled)")
    assert len(result.stdout.strip().splitlines()) == 1


def test_check_uses_rules_path_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = broken_rules(tmp_path)
    monkeypatch.setenv("RULES_PATH", str(path))
    result = invoke("check")
    assert result.exit_code == 1
    lines = path.read_text().splitlines()
    severity = next(i for i, line in enumerate(lines) if "severity: urgent" in line) + 1
    metric = next(i for i, line in enumerate(lines) if "run_km" in line) + 1
    column = lines[metric - 1].index("run_km") + 1
    assert result.stderr.splitlines() == [
        f"{path}:{severity}:15: severity 'urgent' is not one of info, warning, high",
        f"{path}:{metric}:{column}: let.baseline_sum_m: unknown metric 'run_km'; "
        "did you mean 'run_m'?",
    ]


def test_check_missing_file(tmp_path: Path) -> None:
    result = invoke("check", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("cannot read the rules file: No such file or directory")


# ---------------------------------------------------------------- evaluate


def _summed_week(items: list[dict[str, Any]], monday: str) -> int:
    start = dt.date.fromisoformat(monday)
    return sum(
        round(a["distance"])
        for a in items
        if a["sport_type"] in ("Run", "TrailRun", "VirtualRun")
        and 0 <= (dt.date.fromisoformat(a["start_date_local"][:10]) - start).days < 7
    )


def test_evaluate_real_strava_page_as_json() -> None:
    path = FIXTURES / "summary_activities_page1_2025-10.json"
    result = invoke("evaluate", "--activities", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    findings = report["findings"]
    assert all(set(f) >= REQUIRED_KEYS for f in findings)
    weeks = sorted({f["week_start"] for f in findings})
    assert weeks == [
        f"2025-{d}" for d in ("09-01", "09-08", "09-15", "09-22", "09-29", "10-06", "10-13")
    ]
    assert report["open_week"] is None  # all those weeks are long over

    spikes = {f["week_start"]: f for f in findings if f["rule"] == "weekly_distance_spike"}
    assert [spikes[w]["status"] for w in weeks[:4]] == ["insufficient_history"] * 4
    items = json.loads(path.read_text())
    week_m = _summed_week(items, "2025-09-29")
    baseline = sum(_summed_week(items, w) for w in weeks[:4])
    assert spikes["2025-09-29"]["figures"]["week_m"] == week_m
    assert spikes["2025-09-29"]["figures"]["baseline_m"] == round(baseline / 4)
    expected = "fired" if 100 * (4 * week_m - baseline) > 30 * baseline else "clear"
    assert spikes["2025-09-29"]["status"] == expected == "fired"

    # Per-run findings carry the activity and its local date. The 35.4 km run of 2025-10-04
    # against the longest run that started in the 30 days before it:
    long_item = next(a for a in items if a["start_date_local"].startswith("2025-10-04"))
    start = dt.datetime.fromisoformat(long_item["start_date_local"][:19])
    window = [
        round(a["distance"])
        for a in items
        if dt.timedelta(0)
        < start - dt.datetime.fromisoformat(a["start_date_local"][:19])
        <= dt.timedelta(days=30)
    ]
    long_run = next(f for f in findings if f["activity_id"] == long_item["id"])
    assert long_run["rule"] == "single_run_spike"
    assert (long_run["date"], long_run["week_start"]) == ("2025-10-04", "2025-09-29")
    assert long_run["figures"]["longest_prior_m"] == max(window) == 30_637
    assert long_run["figures"]["run_m"] == 35_441
    assert (long_run["status"], long_run["band"]) == ("fired", "small")
    # JSON carries the exact value for scripts; the table rounds it.
    assert long_run["value"] == pytest.approx(100 * (35_441 / 30_637 - 1), rel=1e-12)
    assert long_run["value"] != round(long_run["value"], 1)
    table = invoke("evaluate", "--activities", str(path), "--fired-only").stdout
    row = next(line for line in table.splitlines() if "single_run_spike" in line)
    assert "│ 15.7 " in row
    assert "15.68" not in table
    # Runs in the first 30 days cannot be judged: an older, longer run may be unseen.
    first_run = next(f for f in findings if f["rule"] == "single_run_spike")
    assert (first_run["date"], first_run["status"]) == ("2025-09-04", "insufficient_history")


def test_evaluate_prints_the_limits_after_each_week_with_the_findings() -> None:
    path = FIXTURES / "summary_activities_page1_2025-10.json"
    result = invoke("evaluate", "--activities", str(path), "--format", "json")
    report = json.loads(result.stdout)
    items = json.loads(path.read_text())
    limits = {(x["week_start"], x["kind"]): x for x in report["limits"]}
    assert {week for week, _kind in limits} == {f["week_start"] for f in report["findings"]}
    # After the week of 29 Sep: the 35.4 km run of 4 Oct is the longest of the 30 days.
    longest = max(
        round(a["distance"])
        for a in items
        if "2025-09-06" <= a["start_date_local"][:10] <= "2025-10-05"
        and a["sport_type"] in ("Run", "TrailRun", "VirtualRun")
    )
    assert limits[("2025-09-29", "next_run")]["high_m"] == longest * 110 // 100
    recent = [_summed_week(items, w) for w in ("2025-09-08", "2025-09-15", "2025-09-22")]
    baseline = (sum(recent) + _summed_week(items, "2025-09-29")) / 4
    week_range = limits[("2025-09-29", "next_week")]
    assert (week_range["low_m"], week_range["high_m"]) == (int(baseline), int(baseline * 1.3))
    # Too few weeks before the first of September's weeks: no range yet.
    assert limits[("2025-09-01", "next_week")]["high_m"] is None

    table = invoke("evaluate", "--activities", str(path), "--format", "table")
    assert "Limits after each week" in table.stdout
    assert str(longest * 110 // 100) in table.stdout


def test_evaluate_variety_of_sports(tmp_path: Path) -> None:
    wrapped = json.loads((FIXTURES / "summary_activities_variety.json").read_text())
    path = tmp_path / "activities.json"
    path.write_text(json.dumps([w["activity"] for w in wrapped]))
    result = invoke("evaluate", "--activities", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    by_key = {(f["rule"], f["week_start"]): f for f in json.loads(result.stdout)["findings"]}
    # 2021-07-05: a treadmill Run and a 18-minute WeightTraining on the same morning.
    treadmill_week = "2021-07-05"
    assert by_key[("missed_strength_days", treadmill_week)]["figures"]["strength_days"] == 1
    assert by_key[("hard_surface_streak", treadmill_week)]["value"] == 0
    assert by_key[("no_rest_day", treadmill_week)]["figures"]["rest_days"] == 6
    # The manual Run (no GPS) of 2018-04-28 is running, but not hard-surface proxy.
    assert by_key[("no_rest_day", "2018-04-23")]["figures"]["rest_days"] == 6
    assert by_key[("hard_surface_streak", "2018-04-23")]["value"] == 0
    # A 34-minute manual WeightTraining entry counts as a strength day.
    assert by_key[("missed_strength_days", "2018-07-09")]["figures"]["strength_days"] == 1
    # Hike, Swim, Ride and Workout are not running.
    assert by_key[("no_rest_day", "2024-07-22")]["figures"]["rest_days"] == 7
    # The TrailRun week: outdoor gain counted, hard-surface streak not.
    hill = by_key[("hill_heavy_week", "2025-09-15")]
    assert hill["figures"]["gain_m"] == 461
    assert hill["figures"]["outdoor_m"] == 24301


def _activity_json(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 99,
        "athlete": {"id": 5},
        "sport_type": "Run",
        "start_date": "2025-10-20T04:30:00Z",
        "distance": 8000.0,
        "moving_time": 2400,
        "total_elevation_gain": 0.0,
        "trainer": False,
        "manual": False,
    }
    base.update(changes)
    return base


def test_athlete_tz_places_activities_without_local_time(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([_activity_json()]))
    result = invoke("evaluate", "--activities", str(path), "--format", "json")
    assert result.exit_code == 2
    assert f"{path}: item 0: activity 99" in result.stderr
    assert "--athlete-tz" in result.stderr

    result = invoke(
        "evaluate", "--activities", str(path), "--athlete-tz", "America/Los_Angeles",
        "--format", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)["findings"]
    # 04:30 UTC on Monday is 21:30 on Sunday in Los Angeles: the previous week.
    assert {f["week_start"] for f in findings} == {"2025-10-13"}


def test_open_week_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([_activity_json(start_date_local="2025-10-14T07:00:00Z")]))
    args = ["evaluate", "--activities", str(path), "--athlete-tz", "Europe/Oslo"]
    result = invoke(*args, "--today", "2025-10-16", "--format", "json")
    assert json.loads(result.stdout)["open_week"] == "2025-10-13"
    result = invoke(*args, "--today", "2025-10-20", "--format", "json")
    assert json.loads(result.stdout)["open_week"] is None
    result = invoke(*args, "--today", "2025-10-16", "--format", "table")
    assert result.exit_code == 0
    assert "2025-10-13 (open)" in result.stdout
    assert "missed_strength_days" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ('[{"id": 1,}]', "{path}:1:11: not valid JSON"),
        ('{"activities": []}', "{path}: expected a JSON array of Strava activities"),
        ("[1]", "{path}: item 0: expected an activity object"),
        ('[{"id": 7, "sport_type": "Run"}]', "{path}: item 0: activity 7: field 'start_date'"),
    ],
)
def test_evaluate_bad_activity_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "activities.json"
    if content is not None:
        path.write_text(content)
    result = invoke("evaluate", "--activities", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("error: " + message.format(path=path))


def test_evaluate_with_broken_rules(tmp_path: Path) -> None:
    path = broken_rules(tmp_path)
    activities = FIXTURES / "summary_activities_page1_2025-10.json"
    result = invoke("evaluate", "--activities", str(activities), "--rules", str(path))
    assert result.exit_code == 1
    assert all(line.startswith(f"{path}:") for line in result.stderr.splitlines())


def test_unknown_zone(tmp_path: Path) -> None:
    activities = FIXTURES / "summary_activities_page1_2025-10.json"
    result = invoke("evaluate", "--activities", str(activities), "--athlete-tz", "Mars/Base")
    assert result.exit_code == 2
    assert "'Mars/Base' is not an IANA time zone" in result.stderr


def test_metrics_lists_what_expressions_may_use() -> None:
    result = invoke("metrics")
    assert result.exit_code == 0
    names = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert {"run_m", "gain_per_km", "hard_surface_streak_days", "prior_sum()"} <= names
    assert "longest_run_within()" in names


def test_evaluate_fired_only_keeps_just_the_alerts() -> None:
    page = str(FIXTURES / "summary_activities_page1_2025-10.json")
    every = json.loads(invoke("evaluate", "--activities", page, "--format", "json").stdout)
    result = invoke("evaluate", "--activities", page, "--fired-only", "--format", "json")
    assert result.exit_code == 0, result.output
    fired = json.loads(result.stdout)["findings"]
    assert fired == [f for f in every["findings"] if f["status"] == "fired"]
    assert 0 < len(fired) < len(every["findings"])
    table = invoke("evaluate", "--activities", page, "--fired-only").stdout
    assert "clear" not in table
    assert "fired" in table
