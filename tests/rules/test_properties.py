"""Properties that must hold for any training history (hypothesis)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strideguard.rules import ActivityRecord, evaluate_all, evaluate_week, load_config
from strideguard.rules.backtest import backtest
from strideguard.rules.columns import ActivityColumns
from strideguard.rules.findings import shown
from tests.rules.builders import activity

CONFIG = load_config()
# Everything on, so every rule is exercised (shoe mileage needs gear and stays out).
ALL_ON = {rule: {"enabled": True} for rule in CONFIG.rules}
START = dt.date(2025, 1, 6)  # a Monday
SPORTS = ["Run", "Run", "Run", "TrailRun", "VirtualRun", "WeightTraining", "Ride", "Yoga"]

PROFILE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw: st.DrawFn, max_size: int = 40) -> list[ActivityRecord]:
    count = draw(st.integers(1, max_size))
    acts = []
    for i in range(count):
        day = START + dt.timedelta(days=draw(st.integers(0, 90)))
        acts.append(
            activity(
                day,
                draw(st.integers(0, 30_000)),
                sport=draw(st.sampled_from(SPORTS)),
                hour=draw(st.integers(0, 23)),
                minute=draw(st.integers(0, 59)),
                trainer=draw(st.booleans()),
                manual=draw(st.integers(0, 9)) == 0,
                gain_dm=draw(st.integers(0, 6_000)),
                moving_s=draw(st.integers(0, 7_200)),
                strava_id=i + 1,
            )
        )
    return acts


def dicts(acts: list[ActivityRecord], overrides: dict[str, Any] | None = ALL_ON) -> list[Any]:
    return [f.to_dict() for f in evaluate_all(acts, CONFIG, overrides)]


@PROFILE
@given(histories(), st.integers(0, 100), st.sampled_from(SPORTS), st.integers(0, 23))
def test_a_zero_distance_activity_changes_nothing(
    acts: list[ActivityRecord], day: int, sport: str, hour: int
) -> None:
    # A strength session of 10+ minutes is training even without distance; keep it short.
    blank = activity(START + dt.timedelta(days=day - 5), 0, sport=sport, hour=hour, moving_s=599)
    assert dicts([*acts, blank]) == dicts(acts)


def _shift_dates(value: Any, days: int) -> Any:
    if isinstance(value, dict):
        return {k: _shift_dates(v, days) for k, v in value.items()}
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        return (dt.date.fromisoformat(value) + dt.timedelta(days=days)).isoformat()
    return value


@PROFILE
@given(histories(), st.integers(-30, 30))
def test_shifting_by_whole_weeks_shifts_findings_by_the_same_weeks(
    acts: list[ActivityRecord], weeks: int
) -> None:
    delta = dt.timedelta(weeks=weeks)
    shifted = [
        dataclasses.replace(
            a, start_date=a.start_date + delta, start_date_local=a.start_date_local + delta
        )
        for a in acts
    ]
    expected = [_shift_dates(f, 7 * weeks) for f in dicts(acts)]
    assert dicts(shifted) == expected


PERCENT_RULES = ("weekly_distance_spike", "single_run_spike", "acwr", "monotony")


@PROFILE
@given(histories(), st.integers(2, 7))
def test_scaling_every_distance_leaves_percentage_rules_unchanged(
    acts: list[ActivityRecord], k: int
) -> None:
    # The spike's absolute guard (a 5 km baseline) is not a percentage: take it out.
    overrides = {**ALL_ON, "weekly_distance_spike": {"min_baseline_m": 0}}
    scaled = [dataclasses.replace(a, distance_m=a.distance_m * k) for a in acts]

    def verdicts(history: list[ActivityRecord]) -> list[Any]:
        return [
            (
                f["rule"],
                f["week_start"],
                f["activity_id"],
                f["status"],
                shown(f["value"]),
                f["band"],
            )
            for f in dicts(history, overrides)
            if f["rule"] in PERCENT_RULES
        ]

    assert verdicts(scaled) == verdicts(acts)


@PROFILE
@given(histories(), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(acts: list[ActivityRecord], rng: random.Random) -> None:
    shuffled = list(acts)
    rng.shuffle(shuffled)
    assert dicts(shuffled) == dicts(acts)


@PROFILE
@given(histories())
def test_evaluate_week_agrees_with_evaluate_all(acts: list[ActivityRecord]) -> None:
    """The worker's call (one week, later activities present) matches the full evaluation."""
    everything = evaluate_all(acts, CONFIG, ALL_ON)
    for week_start in sorted({f.week_start for f in everything}):
        assert evaluate_week(acts, week_start, CONFIG, ALL_ON) == [
            f for f in everything if f.week_start == week_start
        ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(histories(max_size=25), min_size=1, max_size=4), st.integers(1, 3))
def test_backtest_counts_what_evaluate_week_finds_per_athlete(
    athletes: list[list[ActivityRecord]], chunk_size: int
) -> None:
    """The batched, chunked backtest equals one-athlete, one-week-at-a-time evaluation."""
    first, last = START + dt.timedelta(weeks=2), START + dt.timedelta(weeks=14)
    result = backtest(
        ActivityColumns.from_athletes(athletes),
        CONFIG.with_overrides(ALL_ON),
        first_week=first,
        last_week=last,
        chunk_size=chunk_size,
    )
    expected = {rule: [0] * len(result.weeks) for rule in result.per_week}
    digests = [0] * len(result.weeks)
    for acts in athletes:
        for i, week_start in enumerate(result.weeks):
            fired = {f.rule for f in evaluate_week(acts, week_start, CONFIG, ALL_ON) if f.fired}
            for rule in fired:
                expected[rule][i] += 1
            digests[i] += bool(fired)
    assert {rule: list(counts) for rule, counts in result.per_week.items()} == expected
    assert list(result.digests) == digests
