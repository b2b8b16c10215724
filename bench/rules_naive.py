"""The straightforward way to backtest, as a baseline and an independent check.

For each athlete, for each week, filter that athlete's activities and compute each enabled
rule of the default catalog from scratch, in plain Python, straight from RULES.md (the
config supplies only the numbers). No arrays, no caching, no shared metrics: this is what
the engine's design is measured against, and its counts must equal the engine's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from strideguard.rules.columns import SECONDS_PER_DAY, ActivityColumns
from strideguard.rules.config import RulesConfig

DAY = SECONDS_PER_DAY
RULES = (
    "weekly_distance_spike",
    "single_run_spike",
    "hill_heavy_week",
    "hard_surface_streak",
    "missed_strength_days",
    "no_rest_day",
)


class Act(NamedTuple):
    local_s: int
    sport: str
    distance_m: int
    moving_time_s: int
    gain_dm: int
    trainer: bool
    manual: bool


def histories_from_columns(columns: ActivityColumns, athletes: int) -> list[list[Act]]:
    histories: list[list[Act]] = [[] for _ in range(athletes)]
    for i in range(columns.athlete.size):
        athlete = int(columns.athlete[i])
        if athlete < athletes:
            histories[athlete].append(
                Act(
                    int(columns.local_s[i]),
                    columns.sport_names[int(columns.sport[i])],
                    int(columns.distance_m[i]),
                    int(columns.moving_time_s[i]),
                    int(columns.gain_dm[i]),
                    bool(columns.trainer[i]),
                    bool(columns.manual[i]),
                )
            )
    return histories


def naive_backtest(
    histories: Sequence[Sequence[Act]], config: RulesConfig, first_monday: int, n_weeks: int
) -> dict[str, list[int]]:
    """Alerts per rule per week for weeks starting at date ordinal `first_monday`."""
    types = config.activity_types
    p = {rule: config.rules[rule].params for rule in RULES}
    on = [rule for rule in RULES if config.rules[rule].enabled]
    counts = {rule: [0] * n_weeks for rule in on}

    def is_run(a: Act) -> bool:
        return a.sport in types.running and a.distance_m > 0

    def is_strength(a: Act) -> bool:
        return a.sport in types.strength and a.moving_time_s >= types.strength_min_moving_time_s

    def is_treadmill(a: Act) -> bool:
        return a.trainer or a.sport == "VirtualRun"

    def is_hard(a: Act) -> bool:
        manual_ok = not (types.hard_surface_excludes_manual and a.manual)
        return is_run(a) and a.sport == "Run" and not a.trainer and manual_ok

    for acts in histories:
        signal = [a for a in acts if is_run(a) or is_strength(a) or a.distance_m > 0]
        if not signal:
            continue
        first_day = min(a.local_s // DAY for a in signal)
        first = first_day - (first_day - 1) % 7
        for w in range(n_weeks):
            monday = first_monday + 7 * w
            if monday < first:
                continue
            start, end = monday * DAY, (monday + 7) * DAY
            week = [a for a in acts if start <= a.local_s < end]
            runs = [a for a in week if is_run(a)]
            fired: dict[str, bool] = {}

            spike = p["weekly_distance_spike"]
            n = int(spike["baseline_weeks"])
            if (monday - first) // 7 >= spike["min_prior_weeks"]:
                base = [
                    a.distance_m
                    for a in acts
                    if is_run(a) and start - 7 * n * DAY <= a.local_s < start
                ]
                known = min(n, (monday - first) // 7)
                total, this_week = sum(base), sum(a.distance_m for a in runs)
                fired["weekly_distance_spike"] = (
                    known >= 1
                    and total >= spike["min_baseline_m"] * known
                    and 100 * (known * this_week - total) > spike["threshold"] * total
                )

            single = p["single_run_spike"]
            window = int(single["window_days"]) * DAY
            fired["single_run_spike"] = False
            for run in runs:
                if run.local_s - first * DAY < window:
                    continue
                prior = [
                    a.distance_m
                    for a in acts
                    if is_run(a) and run.local_s - window <= a.local_s < run.local_s
                ]
                longest = max(prior, default=0)
                if longest > 0 and 100 * (run.distance_m - longest) > single["threshold"] * longest:
                    fired["single_run_spike"] = True

            hill = p["hill_heavy_week"]
            outdoor = [a for a in runs if not is_treadmill(a)]
            metres = sum(a.distance_m for a in outdoor)
            gain_dm = sum(a.gain_dm for a in outdoor)
            fired["hill_heavy_week"] = (
                metres >= hill["min_outdoor_m"]
                and gain_dm / 10 >= hill["min_gain_m"]
                and 100 * gain_dm > hill["threshold"] * metres
            )

            hard_days = {a.local_s // DAY for a in acts if is_hard(a)}
            longest_streak = 0
            for day in range(monday, monday + 7):
                streak = 0
                while day - streak in hard_days and day - streak >= first:
                    streak += 1
                longest_streak = max(longest_streak, streak)
            fired["hard_surface_streak"] = longest_streak > p["hard_surface_streak"]["max_days"]

            strength_days = {a.local_s // DAY for a in week if is_strength(a)}
            target = p["missed_strength_days"]["target_days"]
            fired["missed_strength_days"] = len(strength_days) < target

            run_days = {a.local_s // DAY for a in runs}
            fired["no_rest_day"] = 7 - len(run_days) < p["no_rest_day"]["target_days"]

            for rule in on:
                counts[rule][w] += fired.get(rule, False)
    return counts
