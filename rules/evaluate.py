"""Run the rules over a cohort, then turn one athlete's verdicts into `Finding`s.

Each rule's status is decided for every athlete-week (or run) at once, as an array of codes, in
a fixed order of precedence: disabled, then unknown history (weeks before the first activity,
or a failed `requires_history`), then a failed guard (`no_baseline`), then the condition.
The backtest counts these codes directly; `evaluate_week` and `evaluate_all` build findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rules.activities import ActivityLike, GearLike
from rules.columns import ActivityColumns
from rules.config import RuleDefinition, RulesConfig
from rules.expressions import Expr
from rules.findings import STATUSES, Figure, Finding
from rules.metrics import RUN_METRICS, WEEK_METRICS, Cohort, MetricSpec, monday_ordinal

FIRED, CLEAR, INSUFFICIENT, NO_BASELINE, DISABLED = range(5)


class _Env:
    """Resolves a rule's names: its `let` values, its parameters, then the metric catalog."""

    def __init__(self, cohort: Cohort, rule: RuleDefinition) -> None:
        self.cohort = cohort
        self.rule = rule
        self.catalog: Mapping[str, MetricSpec] = WEEK_METRICS if rule.per == "week" else RUN_METRICS
        self.lets = dict(rule.lets)
        self.values: dict[str, Any] = {}

    def name(self, name: str) -> Any:
        if name in self.lets:
            if name not in self.values:
                self.values[name] = self.lets[name].evaluate(self)
            return self.values[name]
        if name in self.rule.params:
            return self.rule.params[name]
        return self.cohort.metric(name, self.catalog)

    def param(self, name: str) -> Any:
        return self.rule.params[name]

    def call(self, function: str, args: list[Any]) -> Any:
        if self.rule.per == "week":
            return self.cohort.call_week(function, args)
        return self.cohort.call_run(function, args)

    def evaluate(self, expr: Expr) -> Any:
        with np.errstate(all="ignore"):
            return expr.evaluate(self)


@dataclass
class RuleOutcome:
    """A rule's status codes over the cohort: shape (athletes, weeks), or (runs,) per run."""

    rule: RuleDefinition
    status: NDArray[np.int8]
    env: _Env


def _statuses(cohort: Cohort, rule: RuleDefinition, env: _Env) -> NDArray[np.int8]:
    if rule.per == "week":
        shape: tuple[int, ...] = (cohort.n_athletes, cohort.n_weeks)
        known: Any = cohort.known
    else:
        shape = (cohort.runs()["distance_m"].size,)
        known = True
    if not rule.enabled:
        return np.full(shape, DISABLED, dtype=np.int8)

    def holds(expr: Expr) -> NDArray[np.bool_]:
        return np.broadcast_to(np.asarray(env.evaluate(expr), dtype=bool), shape)

    status = np.where(holds(rule.fires_when), FIRED, CLEAR).astype(np.int8)
    for guard in rule.guards:
        status[~holds(guard)] = NO_BASELINE
    if rule.requires_history is not None:
        status[~holds(rule.requires_history)] = INSUFFICIENT
    status[~np.broadcast_to(known, shape)] = INSUFFICIENT
    return status


def evaluate_cohort(cohort: Cohort, config: RulesConfig) -> dict[str, RuleOutcome]:
    """Status codes for every rule; rules that need gear are left out when no gear is known."""
    outcomes: dict[str, RuleOutcome] = {}
    for rule in config.rules.values():
        if rule.needs_gear and cohort.gear is None:
            continue
        env = _Env(cohort, rule)
        outcomes[rule.id] = RuleOutcome(rule, _statuses(cohort, rule, env), env)
    return outcomes


# -------------------------------------------------------------------- findings


def _number(value: Any, key: str = "") -> int | float | None:
    if value is None:
        return None
    if isinstance(value, np.bool_ | bool):
        return int(value)
    if isinstance(value, np.integer | int):
        return int(value)
    number = float(value)
    if not np.isfinite(number):
        return None
    if key.endswith("_m"):
        return round(number)  # distances are whole metres everywhere
    # Full precision: scripts and stored alerts need the exact value; tables and emails round
    # when they show it (`findings.shown`, the notifier's `number` filter).
    return number


def _pick(value: Any, index: tuple[int, ...] | int) -> Any:
    array = np.asarray(value)
    return array[()] if array.ndim == 0 else array[index]


class _AthleteView:
    """Builds one athlete's findings from the cohort-wide outcomes."""

    def __init__(self, cohort: Cohort, outcomes: Mapping[str, RuleOutcome], athlete: int) -> None:
        self.cohort = cohort
        self.outcomes = outcomes
        self.athlete = athlete

    def week(self, week: int) -> list[Finding]:
        found: list[Finding] = []
        week_start = dt.date.fromordinal(self.cohort.day0 + 7 * week)
        for outcome in self.outcomes.values():
            rule = outcome.rule
            if rule.per == "week":
                code = int(outcome.status[self.athlete, week])
                found.append(self.finding(outcome, code, (self.athlete, week), week_start))
            elif not rule.enabled:
                found.append(self.finding(outcome, DISABLED, 0, week_start))
            else:
                runs = self.cohort.runs()
                for i in np.flatnonzero((runs["athlete"] == self.athlete) & (runs["week"] == week)):
                    found.append(self.finding(outcome, int(outcome.status[i]), int(i), week_start))
        return found

    def finding(
        self, outcome: RuleOutcome, code: int, index: tuple[int, ...] | int, week_start: dt.date
    ) -> Finding:
        rule, env = outcome.rule, outcome.env
        threshold = None
        if rule.threshold is not None and (
            code != DISABLED or rule.threshold.names <= set(rule.params)
        ):
            threshold = _number(_pick(env.evaluate(rule.threshold), index))
        if code == DISABLED:
            return self.shell(rule, week_start, "disabled", None, threshold)
        raw_value = _pick(env.evaluate(rule.value), index) if rule.value else None
        value = _number(raw_value)
        figures: dict[str, Figure] = {}
        for key, expr in rule.figures:
            raw = _pick(env.evaluate(expr), index)
            if expr.type == "date":
                figures[key] = dt.date.fromordinal(int(raw)).isoformat() if raw > 0 else None
            elif expr.type == "text":
                figures[key] = None if raw is None else str(raw)
            else:
                figures[key] = _number(raw, key)
        band = None
        if code == FIRED and value is not None and raw_value is not None:
            # Bands compare the exact value, not the rounded one shown.
            band = next((name for name, low in reversed(rule.bands) if raw_value > low), None)
        finding = self.shell(rule, week_start, STATUSES[code], value, threshold)
        activity_id = run_date = None
        if rule.per == "run":
            runs = self.cohort.runs()
            activity_id = int(runs["activity_id"][index])
            run_date = dt.date.fromordinal(int(runs["day"][index]))
        return replace(finding, band=band, figures=figures, activity_id=activity_id, date=run_date)

    @staticmethod
    def shell(
        rule: RuleDefinition,
        week_start: dt.date,
        status: Any,
        value: int | float | None,
        threshold: int | float | None,
    ) -> Finding:
        return Finding(
            rule=rule.id,
            title=rule.title,
            severity=rule.severity,
            week_start=week_start,
            status=status,
            value=value,
            threshold=threshold,
            advice_why=rule.advice.why if rule.advice else None,
            advice_do=rule.advice.do if rule.advice else None,
            exercise_focus=tuple(rule.exercise_focus),
        )


def _single(
    activities: Iterable[ActivityLike],
    config: RulesConfig,
    overrides: Mapping[str, Any] | None,
    gear: Mapping[str, GearLike] | None,
    end: dt.date | None,
    history_start: dt.date | None,
) -> tuple[Cohort, _AthleteView]:
    effective = config.with_overrides(overrides)
    columns = ActivityColumns.from_athletes([list(activities)])
    cohort = Cohort(
        columns,
        effective.activity_types,
        end_monday=end.toordinal() if end else None,
        history_start=history_start.toordinal() if history_start else None,
        gear=None if gear is None else [gear],
    )
    return cohort, _AthleteView(cohort, evaluate_cohort(cohort, effective), 0)


def week_start_of(day: dt.date) -> dt.date:
    """The Monday that names the ISO week containing `day`."""
    return dt.date.fromordinal(int(monday_ordinal(day.toordinal())))


def evaluate_week(
    activities: Iterable[ActivityLike],
    week_start: dt.date,
    config: RulesConfig,
    overrides: Mapping[str, Any] | None = None,
    gear: Mapping[str, GearLike] | None = None,
    *,
    history_start: dt.date | None = None,
) -> list[Finding]:
    """Every rule's finding for the local week starting on Monday `week_start`.

    Activities after that week are ignored (a week is judged on what had happened by its end).
    `history_start`: the day from which the caller's activity list is complete (e.g. the
    start of its lookback window), so quiet weeks after it count as real zero weeks and a week
    that began before it is unknown.
    """
    if week_start.weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday")
    cohort, view = _single(activities, config, overrides, gear, week_start, history_start)
    return view.week((week_start.toordinal() - cohort.day0) // 7)


def evaluate_all(
    activities: Iterable[ActivityLike],
    config: RulesConfig,
    overrides: Mapping[str, Any] | None = None,
    gear: Mapping[str, GearLike] | None = None,
    *,
    history_start: dt.date | None = None,
) -> list[Finding]:
    """Findings for every week from the first activity's week to the last activity's week."""
    cohort, view = _single(activities, config, overrides, gear, None, history_start)
    first = int(cohort.first_week[0])
    return [f for week in range(first, cohort.n_weeks) for f in view.week(week)]
