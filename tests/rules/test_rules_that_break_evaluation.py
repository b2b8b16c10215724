"""Rules files that parse but cannot be evaluated, and paths that are not files.

`rules check` (and the hot reload) run every rule on a built-in sample history, so a rule that
raises at evaluation is refused with its file, line and column; at evaluation, one failing rule
becomes a finding with status "error" while the other rules are judged as usual.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strideguard.cli.main import app
from strideguard.rules import ConfigError, ConfigHolder, evaluate_week, load_config
from strideguard.rules.config import SHIPPED_RULES, parse_config
from tests.rules.builders import activity, weeks_of_runs

runner = CliRunner()
OVERFLOW = "run_m * 10000000000000000000 > 0"
BROKEN_RULE = """
  broken:
    title: Broken
    enabled: true
    severity: info
    per: week
    params:
      factor: 10
    fires_when: run_m * 10000000000000000000 > factor
    shown_threshold: factor
"""
# The same rule with a literal that fits in 64 bits: valid.
FIXED_RULE = BROKEN_RULE.replace("10000000000000000000", "1000")


def _with_rule(tmp_path: Path, rule: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(SHIPPED_RULES.read_text() + rule)
    return path


def _line_col(path: Path, needle: str) -> tuple[int, int]:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def check(*args: str) -> Any:
    return runner.invoke(app, ["rules", "check", *args])


def test_check_refuses_an_expression_that_overflows_with_its_line_and_column(
    tmp_path: Path,
) -> None:
    path = _with_rule(
        tmp_path,
        BROKEN_RULE,
    )
    result = check(str(path))
    assert result.exit_code == 1, result.output
    line, column = _line_col(path, "run_m * 10000000000000000000")
    assert result.stderr.splitlines() == [
        f"{path}:{line}:{column}: rule broken: fires_when cannot be evaluated (tried on a "
        "built-in sample history): OverflowError: Python int too large to convert to C long"
    ]


def test_a_failing_let_is_blamed_on_the_let_not_on_the_condition(tmp_path: Path) -> None:
    rule = FIXED_RULE.replace(
        "    fires_when:",
        "    let:\n      huge: run_m * 10000000000000000000\n    fires_when: huge > 0 and",
    )
    path = _with_rule(tmp_path, rule)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    line, column = _line_col(path, "run_m * 10000000000000000000")
    [error] = caught.value.errors
    assert error.startswith(f"{path}:{line}:{column}: rule broken: let.huge cannot be evaluated")


def test_a_disabled_rule_is_tried_too_since_an_override_may_switch_it_on(tmp_path: Path) -> None:
    rule = BROKEN_RULE.replace("enabled: true", "enabled: false")
    with pytest.raises(ConfigError) as caught:
        load_config(_with_rule(tmp_path, rule))
    assert "rule broken: fires_when cannot be evaluated" in caught.value.errors[0]


def test_check_json_carries_the_same_errors_and_the_summary(tmp_path: Path) -> None:
    path = _with_rule(tmp_path, BROKEN_RULE)
    result = check(str(path), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    line, column = _line_col(path, "run_m * 10000000000000000000")
    assert report["valid"] is False
    [error] = report["errors"]
    assert (error["path"], error["line"], error["column"]) == (str(path), line, column)
    assert error["message"].startswith("rule broken: fires_when cannot be evaluated")

    good = check(str(SHIPPED_RULES), "--format", "json")
    assert good.exit_code == 0, good.output
    summary = json.loads(good.stdout)
    assert summary["valid"] is True
    assert summary["rules"] == len(load_config(SHIPPED_RULES).rules)
    assert "weekly_distance_spike" in summary["enabled"]
    assert len(summary["version"]) == 64
    assert summary["errors"] == []
    assert summary["warnings"] == []


def test_hot_reload_keeps_the_last_good_rules_when_an_edit_cannot_be_evaluated(
    tmp_path: Path,
) -> None:
    path = _with_rule(tmp_path, FIXED_RULE)
    holder = ConfigHolder(path)
    good = holder.current()
    stat = path.stat()
    path.write_text(path.read_text().replace(FIXED_RULE, BROKEN_RULE))
    os.utime(path, ns=(stat.st_mtime_ns + 10**9, stat.st_mtime_ns + 10**9))
    assert holder.current() is good
    assert holder.last_error is not None
    assert "rule broken: fires_when cannot be evaluated" in holder.last_error.errors[0]


# ---------------------------------------------------------------- evaluation


def _history() -> list[Any]:
    # Four 20 km weeks, then a 40 km week: the weekly spike fires.
    acts = weeks_of_runs(dt.date(2025, 9, 1), [20000, 20000, 20000, 20000, 40000])
    return [*acts, activity(dt.date(2025, 10, 1), 0, sport="WeightTraining", moving_s=1800)]


def test_one_rule_that_fails_does_not_stop_the_others() -> None:
    """A rule that slipped past the check (parsed only, as before the check ran rules)."""
    config = parse_config(SHIPPED_RULES.read_text() + BROKEN_RULE, "rules.yaml")
    week, history = dt.date(2025, 9, 29), _history()
    healthy = evaluate_week(history, week, load_config())
    findings = evaluate_week(history, week, config)

    [broken] = [f for f in findings if f.rule == "broken"]
    assert broken.status == "error"
    assert broken.error == "fires_when: OverflowError: Python int too large to convert to C long"
    assert broken.to_dict()["error"] == broken.error
    # Every other rule concludes exactly what it does without the broken rule.
    assert [f for f in findings if f.rule != "broken"] == healthy
    assert {f.rule: f.status for f in healthy}["weekly_distance_spike"] == "fired"


# ---------------------------------------------------------------- not a regular file


def _check_in_a_process(path: str) -> subprocess.CompletedProcess[str]:
    """In a child with a timeout: the bug being guarded against is a check that never ends."""
    return subprocess.run(
        [sys.executable, "-m", "strideguard.cli.main", "rules", "check", path],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "rules.yaml"
    os.mkfifo(fifo)
    result = _check_in_a_process(str(fifo))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{fifo}:1:1: a named pipe (FIFO) is not a rules file; give the path of a regular YAML file"
    )


def test_check_refuses_dev_zero_and_a_directory(tmp_path: Path) -> None:
    result = _check_in_a_process("/dev/zero")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "/dev/zero:1:1: a device is not a rules file; give the path of a regular YAML file"
    )
    directory = check(str(tmp_path / "."))
    assert directory.exit_code == 1
    assert directory.stderr.strip() == (
        f"{tmp_path}:1:1: a directory is not a rules file; give the path of a regular YAML file"
    )
