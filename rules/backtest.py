"""What a config would have sent over past weeks, so a threshold change is judged before it ships.

Pure counting: the caller supplies every athlete's activities (as columns), overrides and muted
rules. Alerts are counted as the worker stores them: at most one per (athlete, week, rule), so a
per-run rule that fires on two runs in a week counts once. Athletes are evaluated in chunks
(bounded memory, a progress tick per chunk), grouped by their overrides so each group shares
one compiled config.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strideguard.rules.columns import ActivityColumns
from strideguard.rules.config import ConfigError, RulesConfig
from strideguard.rules.evaluate import FIRED, evaluate_cohort
from strideguard.rules.metrics import Cohort

DEFAULT_CHUNK = 2_500


@dataclass(frozen=True)
class BacktestResult:
    source: str
    version: str
    weeks: tuple[dt.date, ...]
    # rule id -> alerts per week (same order as `weeks`)
    per_week: Mapping[str, tuple[int, ...]]
    # athlete-weeks with at least one alert: the digests that would have gone out
    digests: tuple[int, ...]
    athletes: int
    athlete_weeks: int
    # athletes whose week was complete and observed, per week: 0 means nothing to judge
    observed: tuple[int, ...] = ()
    not_evaluated: tuple[str, ...] = ()  # rules that need data a backtest lacks (gear)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def total(self, rule: str) -> int:
        return sum(self.per_week.get(rule, ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "version": self.version,
            "totals": {rule: self.total(rule) for rule in self.per_week},
            "per_week": {rule: list(counts) for rule, counts in self.per_week.items()},
            "digests": list(self.digests),
            "digests_total": sum(self.digests),
            "observed_athletes": list(self.observed),
            "not_evaluated": list(self.not_evaluated),
        }


@dataclass(frozen=True)
class RuleComparison:
    rule: str
    in_force: int | None
    candidate: int | None

    @property
    def delta(self) -> int | None:
        if self.in_force is None or self.candidate is None:
            return None
        return self.candidate - self.in_force


def compare(in_force: BacktestResult, candidate: BacktestResult) -> list[RuleComparison]:
    """Totals per rule side by side; a rule missing from one config shows None there."""
    rules = list(in_force.per_week) + [r for r in candidate.per_week if r not in in_force.per_week]
    return [
        RuleComparison(
            rule,
            in_force.total(rule) if rule in in_force.per_week else None,
            candidate.total(rule) if rule in candidate.per_week else None,
        )
        for rule in rules
    ]


def backtest(
    columns: ActivityColumns,
    config: RulesConfig,
    *,
    first_week: dt.date,
    last_week: dt.date,
    overrides: Sequence[Mapping[str, Any] | None] | None = None,
    muted: Sequence[frozenset[str]] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int], None] | None = None,
    athlete_ids: Sequence[int] | None = None,
    observed_from: Sequence[int] | None = None,
) -> BacktestResult:
    """Alerts `config` would have raised in the weeks `first_week`..`last_week` (Mondays).

    Weeks before the window still serve as history (baselines); each athlete's overrides
    (index-aligned with `columns`' athletes) apply on top of `config`; a muted rule sends
    nothing. Invalid overrides are reported in `warnings` (naming `athlete_ids[i]`) and the
    athlete is evaluated with the global config. `observed_from` (date ordinals, one per
    athlete, 0 for none) is the first day each athlete's history is complete, as the live
    service's fetch window is: a week that began before it is unknown, so it sends nothing and
    serves no baseline, exactly as when the service judged it.
    """
    if first_week.weekday() or last_week.weekday() or first_week > last_week:
        raise ValueError("first_week and last_week must be Mondays, first <= last")
    n_weeks = (last_week - first_week).days // 7 + 1
    weeks = tuple(first_week + dt.timedelta(weeks=i) for i in range(n_weeks))
    n_athletes = columns.n_athletes
    warnings: list[str] = []
    groups: dict[str, list[int]] = {}
    configs: dict[str, RulesConfig] = {"": config}
    for athlete in range(n_athletes):
        athlete_overrides = overrides[athlete] if overrides else None
        key = (
            json.dumps(athlete_overrides, sort_keys=True, default=str) if athlete_overrides else ""
        )
        if key not in configs:
            try:
                configs[key] = config.with_overrides(athlete_overrides)
            except ConfigError as exc:
                label = athlete_ids[athlete] if athlete_ids else f"#{athlete}"
                warnings.append(f"athlete {label}: overrides ignored: {'; '.join(exc.errors)}")
                key = ""
        groups.setdefault(key, []).append(athlete)

    per_week = {rule: np.zeros(n_weeks, dtype=np.int64) for rule in config.rules}
    digests = np.zeros(n_weeks, dtype=np.int64)
    athlete_weeks = 0
    observed = np.zeros(n_weeks, dtype=np.int64)
    starts = np.asarray(observed_from if observed_from is not None else [0] * n_athletes)
    not_evaluated: set[str] = set()
    order = np.argsort(columns.athlete, kind="stable")
    sorted_athletes = columns.athlete[order]
    done = 0
    for key, members in groups.items():
        for start in range(0, len(members), chunk_size):
            chunk = np.asarray(members[start : start + chunk_size], dtype=np.int64)
            sub = _subset(columns, order, sorted_athletes, chunk)
            cohort = Cohort(
                sub,
                configs[key].activity_types,
                end_monday=last_week.toordinal(),
                history_start=starts[chunk].astype(np.int64),
            )
            # Window week i is cohort week i + offset; a window that starts before anyone in
            # the chunk has history begins with `lead` weeks nobody can be judged in.
            offset = (first_week.toordinal() - cohort.day0) // 7
            outcomes = evaluate_cohort(cohort, configs[key])
            window = slice(max(offset, 0), max(offset, 0) + n_weeks)
            lead = max(-offset, 0)
            any_alert = np.zeros((cohort.n_athletes, cohort.n_weeks), dtype=bool)
            known = cohort.known
            for rule_id, rule in configs[key].rules.items():
                outcome = outcomes.get(rule_id)
                if outcome is None:
                    not_evaluated.add(rule_id)
                    continue
                fired = _fired_grid(cohort, outcome.status, rule.per)
                if muted:
                    silent = np.array([rule_id in muted[int(a)] for a in chunk], dtype=bool)
                    fired[silent] = False
                any_alert |= fired
                counts = fired[:, window].sum(axis=0)
                per_week[rule_id][lead : lead + counts.size] += counts
            counts = any_alert[:, window].sum(axis=0)
            digests[lead : lead + counts.size] += counts
            athlete_weeks += int(known[:, window].sum())
            counts = known[:, window].sum(axis=0)
            observed[lead : lead + counts.size] += counts
            done += len(chunk)
            if progress:
                progress(done)
    return BacktestResult(
        source=config.source,
        version=config.version,
        weeks=weeks,
        per_week={
            rule: tuple(int(c) for c in counts)
            for rule, counts in per_week.items()
            if rule not in not_evaluated
        },
        digests=tuple(int(c) for c in digests),
        athletes=n_athletes,
        athlete_weeks=athlete_weeks,
        observed=tuple(int(c) for c in observed),
        not_evaluated=tuple(sorted(not_evaluated)),
        warnings=tuple(warnings),
    )


def _fired_grid(cohort: Cohort, status: NDArray[np.int8], per: str) -> NDArray[np.bool_]:
    """An (athletes, weeks) grid of alerts; per-run verdicts collapse to one per week."""
    if per == "week":
        fired: NDArray[np.bool_] = status == FIRED
        return fired
    grid = np.zeros((cohort.n_athletes, cohort.n_weeks), dtype=bool)
    runs = cohort.runs()
    hit = status == FIRED
    grid[runs["athlete"][hit], runs["week"][hit]] = True
    return grid


def _subset(
    columns: ActivityColumns,
    order: NDArray[np.int64],
    sorted_athletes: NDArray[np.int64],
    chunk: NDArray[np.int64],
) -> ActivityColumns:
    """The activities of the athletes in `chunk`, renumbered 0..len(chunk)-1."""
    starts = np.searchsorted(sorted_athletes, chunk, side="left")
    ends = np.searchsorted(sorted_athletes, chunk, side="right")
    if chunk.size and np.all(np.diff(chunk) == 1):
        rows = order[starts[0] : ends[-1]]
    else:
        rows = np.concatenate(
            [order[s:e] for s, e in zip(starts, ends, strict=True)] or [order[:0]]
        )
    remap = np.searchsorted(chunk, columns.athlete[rows]).astype(np.int64)
    return columns.select(rows, remap, int(chunk.size))
