"""rules.yaml validation: every mistake lands on its line and column with a useful message."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest

from strideguard.rules import ConfigError, ConfigHolder, RulesConfig, evaluate_week, load_config
from strideguard.rules.config import SHIPPED_RULES
from tests.rules.builders import activity, only

MON = dt.date(2025, 9, 1)

GOOD_RULE = """\
version: 1
rules:
  long_week:
    title: Long week
    enabled: true
    severity: info
    params:
      threshold: 50000
    fires_when: run_m > threshold
    value: run_m
    shown_threshold: threshold
"""


def errors_for(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "\n".join(caught.value.errors)
    return [e.removeprefix(f"{path}:") for e in caught.value.errors]


def test_shipped_rules_are_valid_and_carry_the_catalog() -> None:
    config = load_config()
    assert config.source == str(SHIPPED_RULES)
    assert len(config.version) == 64
    expected_on = {
        "weekly_distance_spike",
        "single_run_spike",
        "hill_heavy_week",
        "hard_surface_streak",
        "missed_strength_days",
        "no_rest_day",
        "shoe_mileage",
        "back_pain_reported",
        "back_pain_severe",
    }
    assert {r.id for r in config.rules.values() if r.enabled} == expected_on
    assert {r.id for r in config.rules.values() if not r.enabled} == {
        "monotony",
        "acwr",
        "long_run_share",
    }
    spike = config.rules["weekly_distance_spike"]
    assert (spike.title, spike.severity, spike.exercise_focus) == (
        "Weekly distance spike",
        "warning",
        ["load", "trunk", "hips"],
    )
    assert dict(spike.params) == {
        "threshold": 30,
        "baseline_weeks": 4,
        "min_prior_weeks": 4,
        "min_baseline_m": 5000,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    fires_when: run_m > threshold", "    fires_when: run_km > threshold"),
            "9:17: fires_when: unknown name 'run_km'; did you mean 'run_m'?",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: run_m > treshold"),
            "9:25: fires_when: unknown name 'treshold'; did you mean 'threshold'?",
        ),
        (
            ("    value: run_m", "    valeu: run_m"),
            "10:5: rule long_week: unknown key 'valeu'; did you mean 'value'?",
        ),
        (
            ("      threshold: 50000", "      threshold: fifty"),
            "8:18: params.threshold: must be a number, not str 'fifty'",
        ),
        (
            ("      threshold: 50000", "      threshold: -1"),
            "8:18: params.threshold: -1 is out of range (0 to 1000000000)",
        ),
        (
            ("      threshold: 50000", "      threshold: .inf"),
            "8:18: params.threshold: inf is out of range (0 to 1000000000)",
        ),
        (
            ("    severity: info", "    severity: hi"),
            "6:15: severity 'hi' is not one of info, warning, high; did you mean 'high'?",
        ),
        (
            ("    enabled: true", "    enabled: 1"),
            "5:14: enabled must be true or false, not 1",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: run_m * threshold"),
            "9:17: fires_when must be a condition (a comparison such as x > 3)",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: __import__('os')"),
            "9:17: fires_when: unknown function '__import__'",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: run_m.real > 1"),
            "9:17: fires_when: attribute access ('.') is not allowed in a rule expression",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: prior_sum(run_m, 500) > 1"),
            "9:34: fires_when: prior_sum() needs a whole number from 1 to 104 or a parameter name",
        ),
        (
            ("    fires_when: run_m > threshold", "    fires_when: run_m >"),
            "9:24: fires_when: cannot read the expression: invalid syntax",
        ),
        (
            ("    title: Long week\n", ""),
            "3:3: rule long_week: missing required key 'title'",
        ),
        (
            ("version: 1", "version: 2"),
            "1:10: version 2 is not supported; use version: 1",
        ),
    ],
)
def test_each_kind_of_error_names_line_column_and_fix(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in GOOD_RULE
    assert errors_for(tmp_path, GOOD_RULE.replace(old, new)) == [expected]


def test_all_errors_are_reported_at_once_in_line_order(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("severity: info", "severity: loud").replace(
        "value: run_m", "value: run_mm"
    )
    found = errors_for(tmp_path, text)
    assert [e.split(":")[0] for e in found] == ["6", "10"]


def test_window_parameter_must_be_a_whole_number(tmp_path: Path) -> None:
    text = (
        GOOD_RULE.replace("threshold: 50000", "threshold: 50000\n      weeks: 2.5")
        .replace("fires_when: run_m > threshold", "fires_when: run_m > prior_sum(run_m, weeks)")
        .replace("    shown_threshold: threshold\n", "")
    )
    assert errors_for(tmp_path, text) == [
        "9:14: params.weeks: 2.5 is out of range: a window length is a whole number 1 to 104"
    ]


def test_multi_line_expressions_and_non_numbers(tmp_path: Path) -> None:
    text = GOOD_RULE.replace(
        "    fires_when: run_m > threshold",
        "    fires_when: |\n      run_m > threshold\n      and run_days >= 2",
    )
    assert load_config_text(tmp_path, text).rules["long_week"].fires_when.type == "bool"
    text = GOOD_RULE.replace("    value: run_m", "    value: hard_surface_streak_start")
    assert errors_for(tmp_path, text) == ["10:12: value must be a number, not a date"]


def load_config_text(tmp_path: Path, text: str) -> RulesConfig:
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    return load_config(path)


def test_parameter_may_not_shadow_a_metric(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("threshold: 50000", "threshold: 50000\n      run_m: 3")
    assert errors_for(tmp_path, text) == [
        "9:7: parameter 'run_m' has the name of a metric or function; rename it"
    ]


def test_unknown_top_level_and_activity_type_keys(tmp_path: Path) -> None:
    text = "version: 1\nactivity_types:\n  runing: [Run]\nrulez: {}\n"
    assert errors_for(tmp_path, text) == [
        "1:1: missing the 'rules' mapping",
        "3:3: activity_types: unknown key 'runing'; did you mean 'running'?",
        "4:1: the file: unknown key 'rulez'; did you mean 'rules'?",
    ]


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    text = GOOD_RULE + "  long_week:\n    title: again\n"
    assert errors_for(tmp_path, text) == [
        "12:3: duplicate key 'long_week' (first at line 3); YAML would silently keep only the "
        "last one"
    ]


def test_unsafe_tag_is_refused_and_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'rules: !!python/object/apply:os.system ["touch {marker}"]\n'
    assert errors_for(tmp_path, text) == [
        "1:8: tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed; rules "
        "files hold plain values only"
    ]
    assert not marker.exists()
    assert errors_for(tmp_path, "rules: !custom {}\n")[0].startswith("1:8: tag '!custom'")


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("rules: {}")
    found = errors_for(tmp_path, "\n".join(lines) + "\n")
    assert len(found) == 1
    assert "refusing" in found[0]


def test_many_aliases_are_refused_before_expansion(tmp_path: Path) -> None:
    text = "a: &a x\nb: [" + ", ".join(["*a"] * 150) + "]\nrules: {}\n"
    found = errors_for(tmp_path, text)
    assert found[0].startswith("2:")
    assert "more than 100 aliases" in found[0]


def test_broken_yaml_syntax(tmp_path: Path) -> None:
    found = errors_for(tmp_path, "rules:\n  a: [1, 2\n")
    assert found[0].startswith("3:1: invalid YAML")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml")
    assert caught.value.errors == [
        f"{tmp_path / 'missing.yaml'}:1:1: cannot read the rules file: No such file or directory"
    ]


# ---------------------------------------------------------------- overrides


def test_overrides_are_validated_the_same_way() -> None:
    config = load_config()
    with pytest.raises(ConfigError) as caught:
        config.with_overrides(
            {
                "weekly_distance_spik": {"threshold": 20},
                "weekly_distance_spike": {"treshold": 20, "baseline_weeks": 0},
                "single_run_spike": {"threshold": "high", "enabled": "no"},
            }
        )
    assert caught.value.errors == [
        "overrides: weekly_distance_spik: unknown rule 'weekly_distance_spik'; "
        "did you mean 'weekly_distance_spike'?",
        "overrides: weekly_distance_spike: unknown parameter 'treshold'; did you mean 'threshold'?",
        "overrides: weekly_distance_spike.baseline_weeks: 0 is out of range: "
        "a window length is a whole number 1 to 104",
        "overrides: single_run_spike.threshold: must be a number, not str 'high'",
        "overrides: single_run_spike.enabled: must be true or false, not 'no'",
    ]


def test_override_leaves_the_shared_config_alone() -> None:
    config = load_config()
    changed = config.with_overrides({"weekly_distance_spike": {"threshold": 20}})
    assert changed.rules["weekly_distance_spike"].params["threshold"] == 20
    assert config.rules["weekly_distance_spike"].params["threshold"] == 30


# ---------------------------------------------------------------- admin-defined rules


def test_the_shipped_example_rule_works_when_switched_on() -> None:
    config = load_config()
    assert not config.rules["long_run_share"].enabled
    on = {"long_run_share": {"enabled": True}}
    # 8 km long run in a 20 km week: exactly 40 %, strict: clear.
    acts = [activity(MON, 8_000), activity(MON + dt.timedelta(days=2), 12_000)]
    acts[1] = activity(MON + dt.timedelta(days=2), 6_000)
    acts.append(activity(MON + dt.timedelta(days=4), 6_000))
    finding = only(evaluate_week(acts, MON, config, on), "long_run_share")
    assert (finding.status, finding.value, finding.threshold) == ("clear", 40.0, 40)
    assert finding.figures == {
        "longest_run_m": 8_000,
        "week_total_m": 20_000,
        "share_of_week_pct": 40.0,
    }
    assert finding.to_dict()["advice"]["why"].startswith("One run carrying")
    acts.append(activity(MON + dt.timedelta(days=5), 0))
    acts[0] = activity(MON, 8_001)
    finding = only(evaluate_week(acts, MON, config, on), "long_run_share")
    assert finding.status == "fired"
    small_week = [activity(MON, 9_000)]
    assert only(evaluate_week(small_week, MON, config, on), "long_run_share").status == (
        "no_baseline"
    )


def test_a_new_rule_in_yaml_alone(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        GOOD_RULE
        + """\
  treadmill_heavy:
    title: Mostly treadmill
    enabled: true
    severity: info
    params:
      share: 50
      weeks: 2
    let:
      recent_m: prior_mean(treadmill_m, weeks)
    requires_history: prior_weeks >= weeks
    fires_when: 100 * treadmill_m > share * run_m and treadmill_m > recent_m
    advice:
      why: Treadmill running is fine; the change matters.
      do: null
    exercise_focus: [feet]
"""
    )
    config = load_config(path)
    acts = [activity(MON + dt.timedelta(weeks=w), 10_000) for w in range(2)]
    acts.append(activity(MON + dt.timedelta(weeks=2), 6_000, trainer=True))
    acts.append(activity(MON + dt.timedelta(weeks=2, days=1), 4_000))
    finding = only(evaluate_week(acts, MON + dt.timedelta(weeks=2), config), "treadmill_heavy")
    assert finding.status == "fired"
    assert finding.figures == {"recent_m": 0.0, "run_m": 10_000, "treadmill_m": 6_000}
    assert finding.to_dict()["advice"] == {
        "why": "Treadmill running is fine; the change matters.",
        "do": None,
    }
    assert finding.exercise_focus == ("feet",)


# ---------------------------------------------------------------- ConfigHolder


def _touch_later(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def test_holder_keeps_the_last_good_config_and_picks_up_a_valid_edit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD_RULE)
    holder = ConfigHolder(path)
    first = holder.current()
    assert first.rules["long_week"].params["threshold"] == 50000

    with caplog.at_level(logging.ERROR, logger="strideguard.rules.holder"):
        _touch_later(path, GOOD_RULE.replace("severity: info", "severity: loud"))
        assert holder.current() is first
    assert holder.last_error is not None
    assert f"{path}:6:15: severity 'loud'" in caplog.text
    assert "keeping version" in caplog.text

    _touch_later(path, GOOD_RULE.replace("threshold: 50000", "threshold: 42000"))
    second = holder.current()
    assert second.rules["long_week"].params["threshold"] == 42000
    assert second.version != first.version
    assert holder.last_error is None


def test_holder_survives_the_file_disappearing(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD_RULE)
    holder = ConfigHolder(path)
    first = holder.current()
    path.unlink()
    assert holder.current() is first
    assert holder.last_error is not None
