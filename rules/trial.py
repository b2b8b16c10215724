"""Run every rule once on a small built-in history, so a rule that parses but cannot be
evaluated is refused by `rules check` and by the hot reload, not found by the first digest.

Parsing proves a rule is well-typed, not that numpy can compute it: an integer literal of 2**63
or more, say, checks fine and then raises OverflowError on every evaluation. Every rule is run
as if enabled (an athlete's overrides may switch a rule on), with shoes, so the gear rules run
too. The history is fixed, not generated, so the same file always gets the same verdict.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from strideguard.rules.activities import ActivityRecord, GearRecord
from strideguard.rules.config import RulesConfig
from strideguard.rules.evaluate import rule_failures

_FIRST_MONDAY = dt.date(2025, 1, 6)
_WEEKS = 10
_SHOE = "g1"
SAMPLE_GEAR = {_SHOE: GearRecord(distance_m=850_000, name="Sample shoe")}

# (weekday, sport_type, km, gain m, trainer, manual): a varied week with a rest day, strength
# sessions, trail, treadmill and a manual entry; weeks grow, then one jumps.
_WEEK = (
    (0, "Run", 8.0, 40, False, False),
    (1, "WeightTraining", 0.0, 0, False, False),
    (2, "TrailRun", 12.0, 350, False, False),
    (3, "VirtualRun", 6.0, 0, True, False),
    (4, "Run", 5.0, 20, False, True),
    (5, "Run", 18.0, 260, False, False),
    (5, "WeightTraining", 0.0, 0, False, False),
)


def _sample_history() -> list[ActivityRecord]:
    activities: list[ActivityRecord] = []
    for week in range(_WEEKS):
        growth = 1.0 + 0.05 * week + (0.6 if week == _WEEKS - 1 else 0.0)
        for weekday, sport, km, gain_m, trainer, manual in _WEEK:
            day = _FIRST_MONDAY + dt.timedelta(weeks=week, days=weekday)
            start = dt.datetime.combine(day, dt.time(7, 30))
            distance_m = round(km * growth * 1000)
            activities.append(
                ActivityRecord(
                    activity_id=len(activities) + 1,
                    athlete_id=1,
                    sport_type=sport,
                    start_date=start.replace(tzinfo=dt.UTC),
                    start_date_local=start,
                    timezone="UTC",
                    distance_m=distance_m,
                    moving_time_s=max(2_700, distance_m * 330 // 1000),
                    elevation_gain_dm=gain_m * 10,
                    trainer=trainer,
                    manual=manual,
                    gear_id=_SHOE if distance_m else None,
                )
            )
    return activities


SAMPLE_HISTORY = tuple(_sample_history())


def trial_errors(config: RulesConfig) -> list[str]:
    """One `path:line:col: message` line per rule that fails on the sample history."""
    switched_on = replace(
        config, rules={rule_id: replace(r, enabled=True) for rule_id, r in config.rules.items()}
    )
    try:
        failures = rule_failures(SAMPLE_HISTORY, switched_on, SAMPLE_GEAR)
    except Exception as exc:  # outside any one rule (e.g. activity_types): still the file's fault
        return [f"{config.source}:1:1: the rules cannot be run on a sample history: {exc!r}"]
    found: list[tuple[int, int, str]] = []
    for rule_id, failure in failures.items():
        positions = config.rules[rule_id].positions
        line, column = positions.get(failure.part) or positions.get("rule") or (1, 1)
        message = (
            f"rule {rule_id}: {failure.part} cannot be evaluated (tried on a built-in sample "
            f"history): {failure.cause_text}"
        )
        found.append((line, column, message))
    return [f"{config.source}:{line}:{col}: {message}" for line, col, message in sorted(found)]
