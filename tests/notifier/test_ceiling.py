"""The next-run ceiling and next week's range, as the runner reads them in every digest."""

from __future__ import annotations

from typing import Any

import pytest

from strideguard.integrations.email.render import render_digest
from tests.notifier.test_digest import _plain
from tests.notifier.worked import BUILT_IN, WEEK, digest

SPIKE = [BUILT_IN["hill_heavy_week"]]


def limit(kind: str, high_m: int | None, low_m: int | None = None, rule: str = "r") -> Any:
    return {
        "rule": rule,
        "kind": kind,
        "week_start": WEEK.isoformat(),
        "low_m": low_m,
        "high_m": high_m,
    }


def both_parts(limits: list[dict[str, Any]], units: str = "km") -> list[str]:
    rendered = render_digest(digest(SPIKE, units, limits=limits))
    return [" ".join(rendered.text.split()), _plain(rendered.html)]


@pytest.mark.parametrize(
    ("units", "run", "low", "high"),
    [("km", "23.2 km", "41.7 km", "54.2 km"), ("mi", "14.4 mi", "25.9 mi", "33.7 mi")],
)
def test_every_digest_says_how_far_the_next_run_and_next_week_can_go(
    units: str, run: str, low: str, high: str
) -> None:
    limits = [limit("next_run", 23_210), limit("next_week", 54_275, 41_750)]
    for part in both_parts(limits, units):
        # Rounded down in the runner's units: 23,210 m is 23.2 km, never 23.3.
        assert f"Your next run: up to {run} stays within the range linked to fewer" in part
        assert f"Next week in total: from {low}, your recent weekly average, up to {high}" in part
        assert "a guide, not a safe limit" in part


def test_the_lowest_ceiling_is_shown_when_two_rules_give_one() -> None:
    limits = [
        limit("next_run", 30_000, rule="a"),
        limit("next_run", None, rule="b"),
        limit("next_run", 12_345, rule="c"),
    ]
    for part in both_parts(limits):
        assert "Your next run: up to 12.3 km" in part
        assert "30.0 km" not in part


def test_without_a_figure_the_digest_says_why() -> None:
    for part in both_parts([limit("next_run", None), limit("next_week", None)]):
        assert "no ceiling yet, because you have no recent run" in part
        assert "no range yet, because it needs a few more weeks of running" in part


def test_a_digest_written_before_limits_existed_still_renders_without_them() -> None:
    for part in both_parts([]):
        assert "How far to go next".upper() not in part.upper()
        assert "Your next run" not in part
