"""Run the rules over a cohort, then turn one athlete's verdicts into `Finding`s.

Each rule's status is decided for every athlete-week (or run) at once, as an array of codes, in
a fixed order of precedence: disabled, then unknown history (weeks before the first activity,
or a failed `requires_history`), then a failed guard (`no_baseline`), then the condition.
The backtest counts these codes directly; `evaluate_week` and `evaluate_all` build findings.

A rule that raises while it is evaluated gets the code ERROR and a reason naming the part of
the rule that failed; the other rules are still judged, so one bad rule never holds back a
runner's digest. (`rules check` runs every rule on a sample history first, so this is the
defence behind that check, for what the sample could not show.)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from strideguard.rules.activities import ActivityLike, GearLike
from strideguard.rules.columns import ActivityColumns
from strideguard.rules.config import LimitDefinition, RuleDefinition, RulesConfig
from strideguard.rules.expressions import Expr
from strideguard.rules.findings import STATUSES, Figure, Finding, Limit
from strideguard.rules.metrics import RUN_METRICS, WEEK_METRICS, Cohort, MetricSpec, monday_ordinal

FIRED, CLEAR, INSUFFICIENT, NO_BASELINE, DISABLED, ERROR = range(6)
MAX_REASON_CHARS = 300
T = TypeVar("T")


class RuleEvaluationError(Exception):
    """One part of one rule failed at evaluation; `part` is its key in rules.yaml."""

    def __init__(self, rule: str, part: str, cause: Exception) -> None:
        cause_text = f"{type(cause).__name__}: {cause}"
        if len(cause_text) > MAX_REASON_CHARS:
            cause_text = cause_text[: MAX_REASON_CHARS - 3] + "..."
        super().__init__(f"{part}: {cause_text}")
        self.rule = rule
        self.part = part
        self.cause_text = cause_text
        self.reason = f"{part}: {cause_text}"


def _part(rule: RuleDefinition, part: str, compute: Callable[[], T]) -> T:
    """`compute()`, with any failure named after the part of `rule` it came from."""
    try:
        return compute()
    except RuleEvaluationError:
        raise
    except Exception as exc:  # any failure of an admin's expression is that rule's alone
        raise RuleEvaluationError(rule.id, part, exc) from exc


class _Env:
    """Resolves a rule's names: its `let` values, its parameters, then the metric catalog."""

    def __init__(self, cohort: Cohort, rule: RuleDefinition) -> None:
        self.cohort = cohort
        self.rule = rule
        self.catalog: Mapping[str, MetricSpec] = WEEK_METRICS if rule.per == "week" else RUN_METRICS
        self.lets = dict(rule.lets)
        self.values: dict[str, Any] = {}

    @classmethod
    def for_limit(cls, cohort: Cohort, rule: RuleDefinition) -> _Env:
        """A limit's names: the rule's parameters and the weekly catalog, whatever `per` is."""
        return cls(cohort, replace(rule, per="week", lets=()))

    def name(self, name: str) -> Any:
        if name in self.lets:
            if name not in self.values:
                self.values[name] = self.evaluate(self.lets[name])
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
    # Why the rule could not be evaluated (every status is then ERROR).
    error: RuleEvaluationError | None = None


def _shape(cohort: Cohort, rule: RuleDefinition) -> tuple[int, ...]:
    if rule.per == "week":
        return (cohort.n_athletes, cohort.n_weeks)
    return (cohort.runs()["distance_m"].size,)


def _statuses(cohort: Cohort, rule: RuleDefinition, env: _Env) -> NDArray[np.int8]:
    shape = _shape(cohort, rule)
    known: Any = cohort.known if rule.per == "week" else True
    if not rule.enabled:
        return np.full(shape, DISABLED, dtype=np.int8)
    # Each `let` is computed here, in order, so a failure is blamed on the `let` that failed
    # rather than on the condition that happened to use it first.
    for name, _expr in rule.lets:
        _part(rule, f"let.{name}", partial(env.name, name))

    def holds(expr: Expr, part: str) -> NDArray[np.bool_]:
        return _part(
            rule,
            part,
            lambda: np.broadcast_to(np.asarray(env.evaluate(expr), dtype=bool), shape),
        )

    status = np.where(holds(rule.fires_when, "fires_when"), FIRED, CLEAR).astype(np.int8)
    for i, guard in enumerate(rule.guards):
        status[~holds(guard, f"guards[{i}]")] = NO_BASELINE
    if rule.requires_history is not None:
        status[~holds(rule.requires_history, "requires_history")] = INSUFFICIENT
    status[~np.broadcast_to(known, shape)] = INSUFFICIENT
    return status


def evaluate_cohort(cohort: Cohort, config: RulesConfig) -> dict[str, RuleOutcome]:
    """Status codes for every rule; rules that need gear are left out when no gear is known.

    A rule that fails gets ERROR everywhere and the reason, and the others go on.
    """
    outcomes: dict[str, RuleOutcome] = {}
    for rule in config.rules.values():
        if rule.needs_gear and cohort.gear is None:
            continue
        env = _Env(cohort, rule)
        try:
            outcomes[rule.id] = RuleOutcome(rule, _statuses(cohort, rule, env), env)
        except RuleEvaluationError as exc:
            status = np.full(_shape(cohort, rule), ERROR, dtype=np.int8)
            outcomes[rule.id] = RuleOutcome(rule, status, env, exc)
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


def _metres(value: Any) -> int | None:
    """A limit in whole metres, rounded down (the safe side), or None if not a positive figure."""
    if value is None:
        return None
    number = float(value)
    return math.floor(number) if math.isfinite(number) and number > 0 else None


def _pick(value: Any, index: tuple[int, ...] | int) -> Any:
    array = np.asarray(value)
    return array[()] if array.ndim == 0 else array[index]


class _AthleteView:
    """Builds one athlete's findings from the cohort-wide outcomes."""

    def __init__(self, cohort: Cohort, outcomes: Mapping[str, RuleOutcome], athlete: int) -> None:
        self.cohort = cohort
        self.outcomes = outcomes
        self.athlete = athlete
        # The first failure of each rule while building findings, for `rule_failures`.
        self.errors: dict[str, RuleEvaluationError] = {
            rule_id: outcome.error for rule_id, outcome in outcomes.items() if outcome.error
        }

    def week(self, week: int) -> list[Finding]:
        found: list[Finding] = []
        week_start = dt.date.fromordinal(self.cohort.day0 + 7 * week)
        for outcome in self.outcomes.values():
            try:
                found.extend(self.rule_week(outcome, week, week_start))
            except RuleEvaluationError as exc:
                self.errors.setdefault(exc.rule, exc)
                found.append(self.failed(outcome.rule, week_start, exc))
        return found

    def limits(self, week: int) -> list[Limit]:
        """Each enabled rule's limit after `week`, read on the Monday that follows it (the
        cohort must reach that Monday); a failing limit is recorded like a failing rule."""
        found: list[Limit] = []
        week_start = dt.date.fromordinal(self.cohort.day0 + 7 * week)
        for outcome in self.outcomes.values():
            rule = outcome.rule
            if rule.limit is None or not rule.enabled:
                continue
            try:
                found.append(self.limit(rule, rule.limit, week, week_start))
            except RuleEvaluationError as exc:
                self.errors.setdefault(exc.rule, exc)
        return found

    def limit(
        self, rule: RuleDefinition, limit: LimitDefinition, week: int, week_start: dt.date
    ) -> Limit:
        env = _Env.for_limit(self.cohort, rule)
        index = (self.athlete, week + 1)

        def read(expr: Expr | None, part: str) -> Any:
            if expr is None:
                return None
            return _part(rule, part, lambda: _pick(env.evaluate(expr), index))

        high, low = read(limit.high, "limit.max"), read(limit.low, "limit.min")
        when = read(limit.when, "limit.when")
        if when is not None and not bool(when):
            return Limit(rule.id, limit.kind, week_start, None)
        return Limit(rule.id, limit.kind, week_start, _metres(high), _metres(low))

    def rule_week(self, outcome: RuleOutcome, week: int, week_start: dt.date) -> list[Finding]:
        """One rule's findings for the week: one, or one per run for a per-run rule."""
        rule = outcome.rule
        if outcome.error is not None:
            return [self.failed(rule, week_start, outcome.error)]
        if rule.per == "week":
            code = int(outcome.status[self.athlete, week])
            return [self.finding(outcome, code, (self.athlete, week), week_start)]
        if not rule.enabled:
            return [self.finding(outcome, DISABLED, 0, week_start)]
        runs = self.cohort.runs()
        return [
            self.finding(outcome, int(outcome.status[i]), int(i), week_start)
            for i in np.flatnonzero((runs["athlete"] == self.athlete) & (runs["week"] == week))
        ]

    def failed(
        self, rule: RuleDefinition, week_start: dt.date, exc: RuleEvaluationError
    ) -> Finding:
        return replace(self.shell(rule, week_start, "error", None, None), error=exc.reason)

    def finding(
        self, outcome: RuleOutcome, code: int, index: tuple[int, ...] | int, week_start: dt.date
    ) -> Finding:
        rule, env = outcome.rule, outcome.env

        def raw(expr: Expr | None, part: str) -> Any:
            return (
                None
                if expr is None
                else _part(rule, part, lambda: _pick(env.evaluate(expr), index))
            )

        threshold = None
        if rule.shown_threshold is not None and (
            code != DISABLED or rule.shown_threshold.names <= set(rule.params)
        ):
            threshold = _number(raw(rule.shown_threshold, "shown_threshold"))
        if code == DISABLED:
            return self.shell(rule, week_start, "disabled", None, threshold)
        raw_value = raw(rule.value, "value")
        value = _part(rule, "value", lambda: _number(raw_value))
        figures: dict[str, Figure] = {}
        for key, expr in rule.figures:
            figures[key] = _part(
                rule, f"figures.{key}", partial(self.figure, env, expr, index, key)
            )
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
    def figure(env: _Env, expr: Expr, index: tuple[int, ...] | int, key: str) -> Figure:
        """A figure as the email shows it: an ISO date, text, or a rounded number."""
        raw = _pick(env.evaluate(expr), index)
        if expr.type == "date":
            return dt.date.fromordinal(int(raw)).isoformat() if raw > 0 else None
        if expr.type == "text":
            return None if raw is None else str(raw)
        return _number(raw, key)

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
    back_pain: Mapping[dt.date, int] | None = None,
) -> tuple[Cohort, _AthleteView]:
    effective = config.with_overrides(overrides)
    columns = ActivityColumns.from_athletes([list(activities)])
    cohort = Cohort(
        columns,
        effective.activity_types,
        end_monday=end.toordinal() if end else None,
        history_start=history_start.toordinal() if history_start else None,
        gear=None if gear is None else [gear],
        back_pain=[back_pain],
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
    back_pain: Mapping[dt.date, int] | None = None,
) -> list[Finding]:
    """Every rule's finding for the local week starting on Monday `week_start`.

    Activities after that week are ignored (a week is judged on what had happened by its end).
    `history_start`: the day from which the caller's activity list is complete (e.g. the
    start of its lookback window), so quiet weeks after it count as real zero weeks and a week
    that began before it is unknown. `back_pain` maps week Mondays to the runner's own
    check-in answers (plain data: the engine never reads the database).
    """
    if week_start.weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday")
    cohort, view = _single(
        activities, config, overrides, gear, week_start, history_start, back_pain
    )
    return view.week((week_start.toordinal() - cohort.day0) // 7)


def evaluate_all(
    activities: Iterable[ActivityLike],
    config: RulesConfig,
    overrides: Mapping[str, Any] | None = None,
    gear: Mapping[str, GearLike] | None = None,
    *,
    history_start: dt.date | None = None,
    back_pain: Mapping[dt.date, int] | None = None,
) -> list[Finding]:
    """Findings for every week from the first activity's week to the last activity's week."""
    cohort, view = _single(activities, config, overrides, gear, None, history_start, back_pain)
    first = int(cohort.first_week[0])
    return [f for week in range(first, cohort.n_weeks) for f in view.week(week)]


def evaluate_limits(
    activities: Iterable[ActivityLike],
    week_start: dt.date,
    config: RulesConfig,
    overrides: Mapping[str, Any] | None = None,
    *,
    history_start: dt.date | None = None,
) -> list[Limit]:
    """Each enabled rule's limit for the runner after the week starting on `week_start`:
    the longest next run, and next week's range (the rule's `limit:` in rules.yaml)."""
    if week_start.weekday() != 0:
        raise ValueError(f"week_start {week_start} is not a Monday")
    following = week_start + dt.timedelta(weeks=1)
    cohort, view = _single(activities, config, overrides, None, following, history_start)
    return view.limits((week_start.toordinal() - cohort.day0) // 7)


def _limits_view(
    activities: Sequence[ActivityLike],
    config: RulesConfig,
    overrides: Mapping[str, Any] | None,
    cohort: Cohort,
    history_start: dt.date | None,
) -> _AthleteView:
    """A view whose calendar reaches the Monday after `cohort`'s last week, for its limits."""
    following = dt.date.fromordinal(cohort.day0 + 7 * cohort.n_weeks)
    return _single(activities, config, overrides, None, following, history_start)[1]


def limits_all(
    activities: Iterable[ActivityLike],
    config: RulesConfig,
    overrides: Mapping[str, Any] | None = None,
    *,
    history_start: dt.date | None = None,
) -> list[Limit]:
    """The limits after every week that `evaluate_all` reports, in week order."""
    records = list(activities)
    cohort, _view = _single(records, config, overrides, None, None, history_start)
    view = _limits_view(records, config, overrides, cohort, history_start)
    first = int(cohort.first_week[0])
    return [limit for week in range(first, cohort.n_weeks) for limit in view.limits(week)]


def rule_failures(
    activities: Iterable[ActivityLike],
    config: RulesConfig,
    gear: Mapping[str, GearLike] | None = None,
) -> dict[str, RuleEvaluationError]:
    """The first failure of each rule that cannot be evaluated over every week of `activities`
    (its findings and its limit)."""
    records = list(activities)
    cohort, view = _single(records, config, None, gear, None, None)
    limits_view = _limits_view(records, config, None, cohort, None)
    for week in range(int(cohort.first_week[0]), cohort.n_weeks):
        view.week(week)
        limits_view.limits(week)
    return {**limits_view.errors, **view.errors}
