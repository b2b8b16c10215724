"""The back-pain check-in as rule input: the `back_pain` metrics and the two shipped rules.

The answers arrive as plain data (week Monday -> 0-10), exactly as the worker passes them.
"""

from __future__ import annotations

import datetime as dt

import pytest

from strideguard.rules import RulesConfig, evaluate_week, load_config
from tests.rules.builders import only, weeks_of_runs

MON = dt.date(2025, 9, 1)  # a Monday
WEEKS = [MON + dt.timedelta(weeks=n) for n in range(4)]


@pytest.fixture(scope="module")
def config() -> RulesConfig:
    return load_config()


def _judge(
    config: RulesConfig, weekly_m: list[int], answers: dict[dt.date, int]
) -> dict[str, tuple[str, dict[str, object]]]:
    last = WEEKS[len(weekly_m) - 1]
    findings = evaluate_week(weeks_of_runs(MON, weekly_m), last, config, back_pain=answers)
    return {
        rule: (only(findings, rule).status, dict(only(findings, rule).figures))
        for rule in ("back_pain_reported", "back_pain_severe")
    }


def test_moderate_pain_asks_to_hold_the_load_but_is_not_severe(config: RulesConfig) -> None:
    judged = _judge(config, [20_000, 20_000], {WEEKS[1]: 4})
    assert judged["back_pain_reported"][0] == "fired"
    assert judged["back_pain_reported"][1]["pain"] == 4
    assert judged["back_pain_severe"][0] == "clear"
    assert _judge(config, [20_000, 20_000], {WEEKS[1]: 3})["back_pain_reported"][0] == "clear"


def test_strong_pain_fires_both_rules(config: RulesConfig) -> None:
    judged = _judge(config, [20_000, 20_000], {WEEKS[1]: 7})
    assert judged["back_pain_severe"] == ("fired", {"pain": 7})
    assert judged["back_pain_reported"][0] == "fired"


def test_a_week_without_an_answer_is_never_judged(config: RulesConfig) -> None:
    judged = _judge(config, [20_000, 20_000], {WEEKS[0]: 9})
    assert judged["back_pain_reported"][0] == "no_baseline"
    assert judged["back_pain_severe"][0] == "no_baseline"


def test_pain_rising_two_weeks_while_the_load_grew(config: RulesConfig) -> None:
    rising = {WEEKS[0]: 1, WEEKS[1]: 2, WEEKS[2]: 3}
    status, figures = _judge(config, [20_000, 22_000, 25_000], rising)["back_pain_reported"]
    assert status == "fired"
    assert figures == {"pain": 3, "weeks_rising": 2, "week_m": 25_000, "last_week_m": 22_000}
    # The same pain with the load coming down: hold steady, nothing to say.
    assert _judge(config, [25_000, 22_000, 20_000], rising)["back_pain_reported"][0] == "clear"
    # One rise only, or a week left unanswered in between, is not two weeks in a row.
    one_rise = {WEEKS[0]: 2, WEEKS[1]: 2, WEEKS[2]: 3}
    assert _judge(config, [20_000, 22_000, 25_000], one_rise)["back_pain_reported"][0] == "clear"
    gap = {WEEKS[0]: 1, WEEKS[2]: 2, WEEKS[3]: 3}
    status, figures = _judge(config, [20_000, 21_000, 22_000, 25_000], gap)["back_pain_reported"]
    assert (status, figures["weeks_rising"]) == ("clear", 1)
