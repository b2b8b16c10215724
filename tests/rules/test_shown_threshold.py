"""The rule-level figure shown as the threshold cannot be mistaken for `params.threshold`.

It used to be called `threshold:` too: setting it to 40 passed `rules check`, the email said
"threshold 40" and the rule still fired at 30. It is now `shown_threshold:` and must name a
parameter the condition uses; the old key still loads, with a warning, so existing files work.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.rules import ConfigError, evaluate_week, load_config
from strideguard.rules.config import SHIPPED_RULES
from tests.rules.builders import weeks_of_runs
from tests.rules.test_validation import GOOD_RULE, errors_for

HINT = "is only the figure shown next to the value; it does not change when the rule fires"


def test_a_number_there_is_refused_with_a_hint_to_params_threshold(tmp_path: Path) -> None:
    text = GOOD_RULE.replace("shown_threshold: threshold", "shown_threshold: 40")
    assert errors_for(tmp_path, text) == [
        f"11:22: shown_threshold: 40 {HINT}. Set the number in params.threshold and write "
        "'shown_threshold: <that parameter>' here"
    ]


def test_the_issue_s_edit_of_the_shipped_file_fails_the_check(tmp_path: Path) -> None:
    """'Set the threshold to 40' read as the rule-level key, under its old name."""
    path = tmp_path / "rules.yaml"
    shipped = SHIPPED_RULES.read_text()
    spike = shipped.index("weekly_distance_spike:")
    key = shipped.index("    shown_threshold: threshold", spike)
    path.write_text(shipped[:key] + "    threshold: 40" + shipped[key + 30 :])
    result = CliRunner().invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 1
    line = shipped[:key].count("\n") + 1
    assert result.stderr.splitlines() == [
        f"{path}:{line}:16: threshold: 40 {HINT}. Set the number in params.threshold and "
        "write 'threshold: <that parameter>' here"
    ]


def test_the_old_key_naming_a_parameter_still_works_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD_RULE.replace("shown_threshold: threshold", "threshold: threshold"))
    config = load_config(path)
    assert config.warnings == (
        f"{path}:11:5: warning: rule long_week: the rule-level 'threshold:' is now called "
        "'shown_threshold:' (the figure shown next to the value); rename it. To change when "
        "the rule fires, set params.threshold (or the parameter fires_when uses).",
    )
    week = dt.date(2025, 9, 29)
    [finding] = evaluate_week(weeks_of_runs(dt.date(2025, 9, 1), [60000] * 5), week, config)
    assert (finding.status, finding.threshold) == ("fired", 50000)
    result = CliRunner().invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 0
    assert result.stderr.strip() == config.warnings[0]


def test_both_names_at_once_are_refused(tmp_path: Path) -> None:
    text = GOOD_RULE.replace(
        "shown_threshold: threshold", "shown_threshold: threshold\n    threshold: threshold"
    )
    assert errors_for(tmp_path, text) == [
        "12:5: rule long_week: 'threshold' is the old name of 'shown_threshold'; keep only "
        "'shown_threshold'"
    ]


@pytest.mark.parametrize(
    "shown",
    ["other", "other + 0", "run_m"],
)
def test_a_figure_the_condition_does_not_use_is_refused(tmp_path: Path, shown: str) -> None:
    text = GOOD_RULE.replace("threshold: 50000", "threshold: 50000\n      other: 3").replace(
        "shown_threshold: threshold", f"shown_threshold: {shown}"
    )
    assert errors_for(tmp_path, text) == [
        "12:22: shown_threshold must name a parameter that fires_when uses, so the figure "
        "shown is the one the rule fires on (e.g. shown_threshold: threshold, with threshold "
        "in params and in fires_when)"
    ]


def test_a_parameter_used_through_a_let_counts(tmp_path: Path) -> None:
    text = GOOD_RULE.replace(
        "    fires_when: run_m > threshold",
        "    let:\n      limit: threshold + 0\n    fires_when: run_m > limit",
    )
    assert load_config(_written(tmp_path, text)).rules["long_week"].shown_threshold is not None


def _written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_shipped_rules_use_the_new_name_only(tmp_path: Path) -> None:
    config = load_config()
    assert config.warnings == ()
    assert all(rule.shown_threshold is not None for rule in config.rules.values())
    literal = SHIPPED_RULES.read_text().replace(
        "shown_threshold: target_days", "shown_threshold: 2", 1
    )
    with pytest.raises(ConfigError):
        load_config(_written(tmp_path, literal))
