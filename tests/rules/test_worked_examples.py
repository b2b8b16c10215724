"""Every built-in rule on examples computed by hand from RULES.md."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from strideguard.integrations.strava.mapping import from_strava_summary
from strideguard.rules import GearRecord, RulesConfig, evaluate_all, evaluate_week, load_config
from strideguard.rules.findings import shown
from tests.rules.builders import activity, of_rule, only, strength, weeks_of_runs

MON = dt.date(2025, 9, 1)  # a Monday


def week(n: int) -> dt.date:
    return MON + dt.timedelta(weeks=n)


@pytest.fixture(scope="module")
def config() -> RulesConfig:
    return load_config()


# ---------------------------------------------------------------- weekly_distance_spike


def test_spike_fires_with_the_figures_a_human_checks(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [38_000, 38_000, 38_000, 38_000, 52_000])
    finding = only(evaluate_week(acts, week(4), config), "weekly_distance_spike")
    # (52 - 38) / 38 = 36.84 %
    assert finding.status == "fired"
    assert finding.value == pytest.approx(100 * 14 / 38)  # exact; tables show 36.8
    assert shown(finding.value) == "36.8"
    assert finding.threshold == 30
    assert finding.figures == {
        "week_m": 52_000,
        "baseline_m": 38_000,
        "pct": pytest.approx(100 * 14 / 38),
        "prior_weeks": 4,
        "baseline_weeks": 4,
    }
    assert finding.to_dict()["week_start"] == "2025-09-29"


def test_float_example_sits_exactly_on_the_threshold_and_does_not_fire(
    config: RulesConfig,
) -> None:
    # RULES.md: 12.3+12.3+12.3+15.1 km is not 52.0 in binary floats ...
    assert 12.3 + 12.3 + 12.3 + 15.1 != 52.0
    acts = weeks_of_runs(MON, [40_000] * 4)
    acts += [activity(week(4) + dt.timedelta(days=d), m) for d, m in enumerate([12_300] * 3)]
    acts.append(activity(week(4) + dt.timedelta(days=3), 15_100))
    finding = only(evaluate_week(acts, week(4), config), "weekly_distance_spike")
    # ... but in whole metres the week is 52,000 m = exactly 30 % over 40,000: strict, no fire.
    assert finding.figures["week_m"] == 52_000
    assert finding.value == 30.0
    assert finding.status == "clear"
    # One metre more crosses it.
    acts.append(activity(week(4) + dt.timedelta(days=6), 1))
    assert only(evaluate_week(acts, week(4), config), "weekly_distance_spike").status == "fired"


def test_first_weeks_have_insufficient_history(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [10_000, 20_000, 40_000, 80_000, 10_000])
    spikes = of_rule(evaluate_all(acts, config), "weekly_distance_spike")
    assert [f.week_start for f in spikes] == [week(n) for n in range(5)]
    assert [f.status for f in spikes] == ["insufficient_history"] * 4 + ["clear"]
    assert [f.figures["prior_weeks"] for f in spikes] == [0, 1, 2, 3, 4]


def test_weeks_before_the_first_activity_are_unknown_not_zero(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [30_000, 30_000])
    finding = only(evaluate_week(acts, week(-3), config), "weekly_distance_spike")
    assert finding.status == "insufficient_history"
    # Every rule is silent there, including ones without a history guard.
    assert {f.status for f in evaluate_week(acts, week(-3), config)} <= {
        "insufficient_history",
        "disabled",
    }


def test_an_empty_week_inside_the_baseline_is_a_real_zero(config: RulesConfig) -> None:
    # Baseline 40, 0, 40, 40 km: mean 30 km (a group-by that drops the empty week says 40).
    acts = weeks_of_runs(MON, [40_000, 0, 40_000, 40_000, 40_000])
    finding = only(evaluate_week(acts, week(4), config), "weekly_distance_spike")
    assert finding.figures["baseline_m"] == 30_000
    assert finding.value == pytest.approx(100 / 3)
    assert finding.status == "fired"


def test_a_quiet_week_after_the_last_activity_is_zero(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [40_000] * 5)
    finding = only(evaluate_week(acts, week(6), config), "weekly_distance_spike")
    assert finding.figures["week_m"] == 0
    assert finding.figures["baseline_m"] == 30_000  # weeks 2..5: 40, 40, 40, 0
    assert finding.status == "clear"


def test_baseline_guard_is_inclusive(config: RulesConfig) -> None:
    at_guard = weeks_of_runs(MON, [5_000] * 4 + [50_000])
    assert only(evaluate_week(at_guard, week(4), config), "weekly_distance_spike").status == (
        "fired"
    )
    below = weeks_of_runs(MON, [4_999] * 4 + [50_000])
    assert only(evaluate_week(below, week(4), config), "weekly_distance_spike").status == (
        "no_baseline"
    )


def test_a_deleted_activity_leaves_every_computation(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [40_000] * 4 + [50_000])
    assert only(evaluate_week(acts, week(4), config), "weekly_distance_spike").status == "clear"
    # Deleting one 10 km run in week 1 drops the baseline to 37.5 km: 50 km is now +33.3 %.
    deleted = acts[4]
    assert deleted.start_date_local.date() == week(1)
    remaining = [a for a in acts if a.activity_id != deleted.activity_id]
    finding = only(evaluate_week(remaining, week(4), config), "weekly_distance_spike")
    assert finding.figures["baseline_m"] == 37_500
    assert finding.value == pytest.approx(100 / 3)
    assert finding.status == "fired"


def test_per_athlete_override_changes_the_threshold(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [40_000] * 4 + [50_000])  # +25 %
    assert only(evaluate_week(acts, week(4), config), "weekly_distance_spike").status == "clear"
    findings = evaluate_week(acts, week(4), config, {"weekly_distance_spike": {"threshold": 20}})
    finding = only(findings, "weekly_distance_spike")
    assert (finding.status, finding.threshold) == ("fired", 20)


def test_a_longer_configured_baseline_uses_the_generalised_formula(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [20_000, 20_000, 40_000, 40_000, 40_000, 40_000, 45_000])
    overrides = {"weekly_distance_spike": {"baseline_weeks": 6, "threshold": 25}}
    finding = only(evaluate_week(acts, week(6), config, overrides), "weekly_distance_spike")
    # mean of 6 prior weeks = 200/6 = 33.33 km; 45 km is +35 %
    assert finding.figures["baseline_m"] == 33_333
    assert finding.value == 35.0
    assert finding.status == "fired"


# ---------------------------------------------------------------- single_run_spike


def _with_history(*runs: tuple[int, int]) -> list:  # type: ignore[type-arg]
    """A first run 40 days earlier opens the observed period, then runs (day offset, metres)."""
    acts = [activity(MON - dt.timedelta(days=40), 5_000)]
    acts += [activity(MON + dt.timedelta(days=d), m) for d, m in runs]
    return acts


@pytest.mark.parametrize(
    ("metres", "status", "band"),
    [
        (11_000, "clear", None),  # exactly +10 %: strict threshold
        (11_001, "fired", "small"),
        (13_000, "fired", "small"),  # exactly +30 % is still small (>10-30)
        (13_001, "fired", "moderate"),
        (20_000, "fired", "moderate"),  # +100 % is the top of moderate (>30-100)
        (20_001, "fired", "large"),
    ],
)
def test_single_run_spike_threshold_and_bands(
    config: RulesConfig, metres: int, status: str, band: str | None
) -> None:
    acts = _with_history((0, 10_000), (3, metres))
    spikes = of_rule(evaluate_week(acts, MON, config), "single_run_spike")
    assert [f.figures["run_m"] for f in spikes] == [10_000, metres]
    last = spikes[-1]
    assert (last.status, last.band) == (status, band)
    assert last.figures["longest_prior_m"] == 10_000
    assert last.activity_id == acts[-1].activity_id
    assert last.date == MON + dt.timedelta(days=3)


def test_single_run_window_is_the_previous_30_days(config: RulesConfig) -> None:
    long_run = activity(MON, 20_000, hour=8)
    exactly_30_days = activity(MON + dt.timedelta(days=30), 15_000, hour=8)
    after_30_days = activity(MON + dt.timedelta(days=30), 15_000, hour=9)
    opener = activity(MON - dt.timedelta(days=40), 1_000)
    findings = evaluate_all([opener, long_run, exactly_30_days], config)
    f = [
        x
        for x in of_rule(findings, "single_run_spike")
        if x.activity_id == exactly_30_days.activity_id
    ]
    assert f[0].figures["longest_prior_m"] == 20_000  # [t - 30 d, t) includes t - 30 d
    findings = evaluate_all([opener, long_run, after_30_days], config)
    f = [
        x
        for x in of_rule(findings, "single_run_spike")
        if x.activity_id == after_30_days.activity_id
    ]
    # The 20 km run is now 30 days and 1 hour back: out of the window, nothing to compare with.
    assert (f[0].status, f[0].figures["longest_prior_m"]) == ("no_baseline", 0)


def test_single_run_needs_a_fully_observed_window(config: RulesConfig) -> None:
    acts = [activity(MON, 10_000), activity(MON + dt.timedelta(days=2), 15_000)]
    spikes = of_rule(evaluate_all(acts, config), "single_run_spike")
    assert [f.status for f in spikes] == ["insufficient_history", "insufficient_history"]


# ---------------------------------------------------------------- hill_heavy_week


def test_hill_heavy_week_exact_threshold_and_surfaces(config: RulesConfig) -> None:
    base = [
        activity(MON, 10_000, gain_dm=1_500),
        activity(MON + dt.timedelta(days=2), 10_000, sport="TrailRun", gain_dm=1_500),
        # Treadmill and virtual elevation are ignored, distance too (not outdoor).
        activity(MON + dt.timedelta(days=3), 8_000, trainer=True, gain_dm=4_000),
        activity(MON + dt.timedelta(days=4), 8_000, sport="VirtualRun", gain_dm=4_000),
    ]
    finding = only(evaluate_week(base, MON, config), "hill_heavy_week")
    # 300 m over 20 outdoor km = 15.0 m/km exactly: strict threshold, no fire.
    assert finding.figures == {"outdoor_m": 20_000, "gain_m": 300, "gain_per_km": 15.0}
    assert finding.status == "clear"
    steeper = [*base, activity(MON + dt.timedelta(days=5), 0, gain_dm=1)]
    assert only(evaluate_week(steeper, MON, config), "hill_heavy_week").status == "clear"
    steeper = [*base[:1], activity(MON + dt.timedelta(days=2), 10_000, gain_dm=1_520)]
    finding = only(evaluate_week(steeper, MON, config), "hill_heavy_week")
    assert (finding.status, finding.value) == ("fired", 15.1)


def test_hill_heavy_week_guards(config: RulesConfig) -> None:
    short = [activity(MON, 9_999, gain_dm=5_000)]
    assert only(evaluate_week(short, MON, config), "hill_heavy_week").status == "no_baseline"
    flat_enough = [activity(MON, 10_000, gain_dm=2_999)]  # 299.9 m < 300 m guard
    assert only(evaluate_week(flat_enough, MON, config), "hill_heavy_week").status == (
        "no_baseline"
    )
    at_guards = [activity(MON, 10_000, gain_dm=3_000)]  # 30 m/km, both guards met exactly
    assert only(evaluate_week(at_guards, MON, config), "hill_heavy_week").status == "fired"


# ---------------------------------------------------------------- hard_surface_streak


def test_streak_flags_on_day_six_across_the_week_boundary(config: RulesConfig) -> None:
    # Thursday to Tuesday: 6 consecutive days of outdoor Run.
    thursday = MON + dt.timedelta(days=3)
    acts = [activity(thursday + dt.timedelta(days=d), 5_000) for d in range(6)]
    first = only(evaluate_week(acts, MON, config), "hard_surface_streak")
    assert (first.status, first.value) == ("clear", 4)
    second = only(evaluate_week(acts, week(1), config), "hard_surface_streak")
    assert second.status == "fired"
    assert second.figures == {
        "streak_days": 6,
        "streak_start": "2025-09-04",
        "streak_end": "2025-09-09",
    }


def test_streak_is_broken_by_rest_trail_only_or_treadmill_only_days(
    config: RulesConfig,
) -> None:
    days = [MON + dt.timedelta(days=d) for d in range(7)]
    road = [activity(d, 5_000) for d in days]
    assert only(evaluate_week(road, MON, config), "hard_surface_streak").status == "fired"
    for breaker in (
        activity(days[3], 5_000, sport="TrailRun"),
        activity(days[3], 5_000, trainer=True),
        activity(days[3], 5_000, manual=True),  # no GPS: not counted as hard surface
    ):
        acts = [*road[:3], breaker, *road[4:]]
        finding = only(evaluate_week(acts, MON, config), "hard_surface_streak")
        assert (finding.status, finding.value) == ("clear", 3)
    # A day with a trail run AND a road run keeps the streak going.
    both = [*road, activity(days[3], 8_000, sport="TrailRun", hour=18)]
    assert only(evaluate_week(both, MON, config), "hard_surface_streak").value == 7


def test_exactly_five_days_does_not_fire(config: RulesConfig) -> None:
    acts = [activity(MON + dt.timedelta(days=d), 5_000) for d in range(5)]
    finding = only(evaluate_week(acts, MON, config), "hard_surface_streak")
    assert (finding.status, finding.value, finding.threshold) == ("clear", 5, 5)


# ---------------------------------------------------------------- strength and rest


def test_two_strength_sessions_on_one_day_count_once(config: RulesConfig) -> None:
    acts = [activity(MON, 5_000), strength(MON, hour=7), strength(MON, hour=19)]
    finding = only(evaluate_week(acts, MON, config), "missed_strength_days")
    assert finding.figures == {
        "strength_days": 1,
        "target_days": 2,
        "strength_types": "Crossfit, WeightTraining",
        "strength_min_minutes": 10,
    }
    assert finding.status == "fired"
    acts.append(strength(MON + dt.timedelta(days=3)))
    assert only(evaluate_week(acts, MON, config), "missed_strength_days").status == "clear"


def test_short_strength_session_does_not_count(config: RulesConfig) -> None:
    acts = [strength(MON, minutes=9), strength(MON + dt.timedelta(days=2), minutes=10)]
    finding = only(evaluate_week(acts, MON, config), "missed_strength_days")
    assert finding.value == 1


def test_no_rest_day(config: RulesConfig) -> None:
    every_day = [activity(MON + dt.timedelta(days=d), 5_000) for d in range(7)]
    finding = only(evaluate_week(every_day, MON, config), "no_rest_day")
    assert (finding.status, finding.figures) == ("fired", {"rest_days": 0, "target_days": 1})
    # A zero-distance "run" is not running; a ride is not running either.
    sunday = MON + dt.timedelta(days=6)
    six = [*every_day[:6], activity(sunday, 0), activity(sunday, 30_000, sport="Ride")]
    assert only(evaluate_week(six, MON, config), "no_rest_day").status == "clear"


# ---------------------------------------------------------------- off by default


def test_monotony_population_sd_and_undefined_sd(config: RulesConfig) -> None:
    on = {"monotony": {"enabled": True}}
    six_days = [activity(MON + dt.timedelta(days=d), 10_000) for d in range(6)]
    assert only(evaluate_week(six_days, MON, config), "monotony").status == "disabled"
    finding = only(evaluate_week(six_days, MON, config, on), "monotony")
    # loads 10,10,10,10,10,10,0 km: mean 8.571, population SD 3.499 -> 2.449; strain 60 km x 2.449
    assert finding.status == "fired"
    sd = (6 * (10 - 60 / 7) ** 2 + (60 / 7) ** 2) ** 0.5 / 7**0.5
    assert finding.value == pytest.approx(60 / 7 / sd)
    assert finding.figures == {
        "monotony": pytest.approx(60 / 7 / sd),
        "strain": pytest.approx(60_000 * 60 / 7 / sd),
    }
    same_every_day = [activity(MON + dt.timedelta(days=d), 10_000) for d in range(7)]
    finding = only(evaluate_week(same_every_day, MON, config, on), "monotony")
    assert (finding.status, finding.value) == ("no_baseline", None)


def test_acwr_rolling_uncoupled(config: RulesConfig) -> None:
    on = {"acwr": {"enabled": True}}
    acts = weeks_of_runs(MON, [30_000, 30_000, 30_000, 45_000])
    finding = only(evaluate_week(acts, week(3), config, on), "acwr")
    # 45 / mean(30, 30, 30) = 1.5 exactly: strict, no fire.
    assert (finding.status, finding.value) == ("clear", 1.5)
    assert finding.figures == {"acwr": 1.5, "acute_m": 45_000, "chronic_m": 30_000}
    acts.append(activity(week(3) + dt.timedelta(days=6), 1))
    assert only(evaluate_week(acts, week(3), config, on), "acwr").status == "fired"
    early = only(evaluate_week(acts, week(2), config, on), "acwr")
    assert early.status == "insufficient_history"


# ---------------------------------------------------------------- shoes


def test_shoe_mileage_only_when_gear_is_known(config: RulesConfig) -> None:
    acts = [activity(MON, 10_000, gear_id="g1"), activity(MON, 5_000, gear_id="g2", hour=18)]
    assert of_rule(evaluate_week(acts, MON, config), "shoe_mileage") == []
    gear = {"g1": GearRecord(800_000, "Daily trainer"), "g2": GearRecord(812_345, "Racer")}
    finding = only(evaluate_week(acts, MON, config, gear=gear), "shoe_mileage")
    assert finding.status == "fired"
    assert finding.figures == {
        "gear_id": "g2",
        "gear_name": "Racer",
        "gear_m": 812_345,
        "limit_m": 800_000,
    }
    at_limit = {"g1": GearRecord(800_000, "Daily trainer")}
    assert only(evaluate_week(acts, MON, config, gear=at_limit), "shoe_mileage").status == "clear"


# ---------------------------------------------------------------- time and surfaces


def _summary(ident: int, start_utc: str, start_local: str, metres: float, **extra: object) -> dict:  # type: ignore[type-arg]
    return {
        "id": ident,
        "athlete": {"id": 7},
        "sport_type": "Run",
        "type": "Run",
        "start_date": start_utc,
        "start_date_local": start_local,
        "timezone": "(GMT-08:00) America/Los_Angeles",
        "distance": metres,
        "moving_time": 3000,
        "total_elevation_gain": 12.3,
        "trainer": False,
        "manual": False,
        **extra,
    }


def test_sunday_night_run_west_of_utc_belongs_to_sundays_week(config: RulesConfig) -> None:
    # 21:30 Sunday in Los Angeles is already Monday 04:30 UTC.
    sunday_night = from_strava_summary(
        _summary(1, "2025-10-20T04:30:00Z", "2025-10-19T21:30:00Z", 10_000.4)
    )
    assert sunday_night.start_date.weekday() == 0
    assert sunday_night.start_date_local == dt.datetime(2025, 10, 19, 21, 30)
    assert (sunday_night.distance_m, sunday_night.elevation_gain_dm) == (10_000, 123)
    monday = dt.date(2025, 10, 13)
    findings = evaluate_week([sunday_night], monday, config)
    assert only(findings, "no_rest_day").figures["rest_days"] == 6
    next_week = evaluate_week([sunday_night], monday + dt.timedelta(weeks=1), config)
    assert only(next_week, "no_rest_day").figures["rest_days"] == 7


def test_treadmill_and_trail_runs_count_as_running_but_not_as_road(config: RulesConfig) -> None:
    acts = weeks_of_runs(MON, [20_000] * 4)
    acts.append(activity(week(4), 14_000, trainer=True, gain_dm=9_000))
    acts.append(activity(week(4) + dt.timedelta(days=1), 14_000, sport="TrailRun", gain_dm=3_000))
    findings = evaluate_week(acts, week(4), config)
    spike = only(findings, "weekly_distance_spike")
    assert (spike.figures["week_m"], spike.status) == (28_000, "fired")  # both count as running
    hill = only(findings, "hill_heavy_week")
    assert hill.figures["outdoor_m"] == 14_000  # only the trail run is outdoor
    assert hill.figures["gain_m"] == 300
    assert only(findings, "hard_surface_streak").value == 0


def test_ewma_acwr_variant(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        """\
version: 1
rules:
  acwr_ewma:
    title: ACWR (EWMA)
    enabled: true
    severity: info
    params: {threshold: 1.5}
    let:
      acute: ewma_daily_m(7)
      chronic: ewma_daily_m(28)
      acwr: acute / chronic
    guards: [chronic > 0]
    fires_when: acute > threshold * chronic
    value: acwr
    shown_threshold: threshold
    figures: {acwr: acwr, acute_m: 7 * acute, chronic_m: 7 * chronic}
"""
    )
    config = load_config(path)
    # Two months of a steady 5 km a day: both averages start at the first day's load, as in
    # Williams et al. (2017), so the ratio is 1.00 from the first day on, not drifting down.
    steady = [activity(MON + dt.timedelta(days=d), 5_000) for d in range(56)]
    for n in range(8):
        finding = only(evaluate_week(steady, week(n), config), "acwr_ewma")
        assert finding.figures["acwr"] == pytest.approx(1.0, abs=1e-12)
        assert (finding.status, shown(finding.figures["acwr"])) == ("clear", "1.0")
    # A week at 15 km a day after four steady weeks: E = 15 - 10·(1 − λ)^7 (km) for each.
    jump = steady[:28] + [activity(week(4) + dt.timedelta(days=d), 15_000) for d in range(7)]
    finding = only(evaluate_week(jump, week(4), config), "acwr_ewma")
    acute = 15_000 - 10_000 * (1 - 2 / 8) ** 7
    chronic = 15_000 - 10_000 * (1 - 2 / 29) ** 7
    assert finding.figures == {
        "acwr": pytest.approx(acute / chronic),
        "acute_m": round(7 * acute),
        "chronic_m": round(7 * chronic),
    }
    assert finding.status == "fired"  # 13.7 vs 1.5 x 8.9 km a day: a sudden jump
    quiet = only(evaluate_week(jump, week(7), config), "acwr_ewma")
    assert quiet.status == "clear"  # three weeks off: the acute load decays faster


def test_a_week_the_fetch_window_opened_in_the_middle_of_is_unknown(config: RulesConfig) -> None:
    # The Strava window starts on Thursday: Monday's strength session was never fetched, so
    # the week would look like a missed strength day. It must be unknown instead.
    thursday = MON + dt.timedelta(days=3)
    acts = [strength(thursday), activity(thursday, 8_000), strength(week(1))]
    finding = only(evaluate_week(acts, MON, config, history_start=thursday), "missed_strength_days")
    assert finding.status == "insufficient_history"
    # The next week is wholly inside the window and is judged as usual.
    next_week = only(
        evaluate_week(acts, week(1), config, history_start=thursday), "missed_strength_days"
    )
    assert next_week.status == "fired"
    assert next_week.figures == {
        "strength_days": 1,
        "target_days": 2,
        "strength_types": "Crossfit, WeightTraining",
        "strength_min_minutes": 10,
    }
