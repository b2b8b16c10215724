"""The next-run ceiling and next week's range (`limit:` in rules.yaml).

A limit is only honest if it agrees with the rule it comes from: a run (or a week) at the
limit does not fire the rule, and one metre more does. The properties below check that on
generated histories, with the shipped thresholds and with a coach's override.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strideguard.rules import (
    ActivityRecord,
    ConfigError,
    evaluate_limits,
    evaluate_week,
    load_config,
)
from strideguard.rules.findings import Limit
from tests.rules.builders import activity, only, weeks_of_runs

CONFIG = load_config()
START = dt.date(2025, 1, 6)  # a Monday
JUDGED = START + dt.timedelta(weeks=6)
NEXT = JUDGED + dt.timedelta(weeks=1)
PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def limit_of(limits: list[Limit], kind: str) -> Limit:
    [found] = [limit for limit in limits if limit.kind == kind]
    return found


@st.composite
def run_histories(draw: st.DrawFn) -> list[ActivityRecord]:
    """Runs on the seven weeks up to and including JUDGED's week, every week run in."""
    acts = []
    for week in range(7):
        for _ in range(draw(st.integers(1, 4))):
            day = START + dt.timedelta(weeks=week, days=draw(st.integers(0, 6)))
            acts.append(
                activity(day, draw(st.integers(2_000, 30_000)), hour=draw(st.integers(1, 22)))
            )
    return acts


def _next_run_status(
    acts: list[ActivityRecord], metres: int, overrides: dict[str, Any] | None
) -> str:
    # At midnight on the Monday after: the run's 30-day window is the limit's 30 local days.
    run = activity(NEXT, metres, hour=0)
    findings = evaluate_week([*acts, run], NEXT, CONFIG, overrides)
    [finding] = [
        f for f in findings if f.rule == "single_run_spike" and f.activity_id == run.activity_id
    ]
    return finding.status


@PROFILE
@given(run_histories(), st.sampled_from([None, 0, 10, 25, 37.5]))
def test_a_next_run_at_the_ceiling_stays_clear_and_one_metre_more_fires(
    acts: list[ActivityRecord], threshold: float | None
) -> None:
    overrides = None if threshold is None else {"single_run_spike": {"threshold": threshold}}
    ceiling = limit_of(evaluate_limits(acts, JUDGED, CONFIG, overrides), "next_run")
    assert ceiling.rule == "single_run_spike"
    assert ceiling.week_start == JUDGED
    assert ceiling.high_m is not None
    assert _next_run_status(acts, ceiling.high_m, overrides) == "clear"
    assert _next_run_status(acts, ceiling.high_m + 1, overrides) == "fired"


@PROFILE
@given(run_histories(), st.sampled_from([None, 0, 15, 30, 52.5]))
def test_a_next_week_at_the_top_of_the_range_stays_clear_and_one_metre_more_fires(
    acts: list[ActivityRecord], threshold: float | None
) -> None:
    spike: dict[str, float] = {"min_baseline_m": 1000, "min_prior_weeks": 4}
    overrides = {"weekly_distance_spike": spike}
    if threshold is not None:
        spike["threshold"] = threshold
    week_range = limit_of(evaluate_limits(acts, JUDGED, CONFIG, overrides), "next_week")
    assert week_range.high_m is not None
    assert week_range.low_m is not None
    assert week_range.low_m <= week_range.high_m

    def status(total_m: int) -> str:
        week = [activity(NEXT + dt.timedelta(days=1), total_m)]
        findings = evaluate_week([*acts, *week], NEXT, CONFIG, overrides)
        return only(findings, "weekly_distance_spike").status

    assert status(week_range.high_m) == "clear"
    assert status(week_range.high_m + 1) == "fired"


def test_the_ceiling_is_the_30_day_longest_times_one_plus_the_threshold() -> None:
    acts = [
        activity(JUDGED - dt.timedelta(days=31), 40_000),  # 31 days before the next Monday
        activity(JUDGED - dt.timedelta(days=20), 20_000),
        activity(JUDGED + dt.timedelta(days=6), 18_000),
    ]
    ceiling = limit_of(evaluate_limits(acts, JUDGED, CONFIG), "next_run")
    assert ceiling.high_m == 22_000  # the 40 km run left the window; 20 km x 1.10
    coach = {"single_run_spike": {"threshold": 25, "window_days": 60}}
    assert limit_of(evaluate_limits(acts, JUDGED, CONFIG, coach), "next_run").high_m == 50_000


def test_the_weekly_range_runs_from_the_recent_mean_to_the_threshold_above_it() -> None:
    acts = weeks_of_runs(START, [20_000, 30_000, 40_000, 30_000, 40_000, 50_000, 40_000])
    week_range = limit_of(evaluate_limits(acts, JUDGED, CONFIG), "next_week")
    # The baseline next week is compared with: the mean of the four weeks up to JUDGED's.
    assert (week_range.low_m, week_range.high_m) == (40_000, 52_000)


def test_no_figure_without_anything_to_compare_with() -> None:
    short = weeks_of_runs(JUDGED - dt.timedelta(weeks=1), [20_000, 20_000])
    week_range = limit_of(evaluate_limits(short, JUDGED, CONFIG), "next_week")
    assert week_range.high_m is None
    assert week_range.low_m is None
    long_ago = [activity(JUDGED - dt.timedelta(days=60), 10_000)]
    assert limit_of(evaluate_limits(long_ago, JUDGED, CONFIG), "next_run").high_m is None


def test_a_rule_switched_off_gives_no_limit() -> None:
    acts = weeks_of_runs(START, [20_000] * 7)
    off = {"single_run_spike": {"enabled": False}}
    assert [limit.kind for limit in evaluate_limits(acts, JUDGED, CONFIG, off)] == ["next_week"]


def test_a_limit_is_reported_in_the_json_shape() -> None:
    acts = weeks_of_runs(START, [20_000] * 7)
    ceiling = limit_of(evaluate_limits(acts, JUDGED, CONFIG), "next_run")
    assert ceiling.to_dict() == {
        "rule": "single_run_spike",
        "kind": "next_run",
        "week_start": JUDGED.isoformat(),
        "low_m": None,
        "high_m": 5_500,
    }


# ------------------------------------------------------------------ validation

RULE = """\
version: 1
rules:
  long_run:
    title: Long run
    enabled: true
    severity: info
    per: run
    params:
      threshold: 10
      window_days: 30
    let:
      longest: longest_run_within(window_days)
    fires_when: 100 * (run_m - longest) > threshold * longest
    limit:
      for: next_run
      max: longest_run_before(window_days) * (100 + threshold) / 100
"""


def errors_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [e.removeprefix(f"{path}:") for e in caught.value.errors]


def test_a_valid_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULE)
    limit = load_config(path).rules["long_run"].limit
    assert limit is not None
    assert limit.kind == "next_run"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "      for: next_run",
            "      for: next_runs",
            "15:12: limit.for must be one of next_run, next_week, not 'next_runs'; "
            "did you mean 'next_run'?",
        ),
        (
            "      max:",
            "      maxx:",
            "15:7: rule long_run: limit needs 'max' (the highest figure)\n"
            "16:7: limit: unknown key 'maxx'; did you mean 'max'?",
        ),
        (
            "longest_run_before(window_days) *",
            "run_m *",
            "16:12: limit.max: 'run_m' is a figure of the week itself, and a limit is computed "
            "for the week ahead before it is run; look back with a window function instead, "
            "e.g. prior_sum(run_m, 1) for the week just judged",
        ),
        (
            "longest_run_before(window_days) *",
            "longest_run_within(window_days) *",
            "16:12: limit.max: unknown function 'longest_run_within'; "
            "did you mean 'longest_run_before'?",
        ),
        (
            "(100 + threshold) / 100",
            "11 / 10",
            "16:12: limit.max must use a parameter that fires_when uses, so the limit moves "
            "with the threshold (e.g. longest_run_before(window_days) * (100 + threshold) / 100)",
        ),
    ],
)
def test_a_bad_limit_is_refused_at_its_line_and_column(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in RULE
    assert errors_for(tmp_path, RULE.replace(old, new)) == expected.splitlines()


def test_a_limit_window_is_checked_like_any_window_length(tmp_path: Path) -> None:
    text = RULE.replace("longest_run_before(window_days)", "longest_run_before(400)")
    assert errors_for(tmp_path, text) == [
        "16:31: limit.max: longest_run_before() needs a whole number from 1 to 365 "
        "or a parameter name"
    ]


def test_the_rules_check_runs_the_limit_on_the_sample_history(tmp_path: Path) -> None:
    text = RULE.replace("(100 + threshold) / 100", "(100 + threshold) * 10000000000000000000")
    [error] = errors_for(tmp_path, text)
    assert error.startswith(
        "16:12: rule long_run: limit.max cannot be evaluated (tried on a built-in sample "
        "history): OverflowError"
    )
