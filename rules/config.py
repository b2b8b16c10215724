"""rules.yaml into a checked `RulesConfig`, with every problem reported at its line and column.

All problems in a file are collected (not just the first), each as `path:line:col: message`,
and names that are almost right get a "did you mean" from the valid ones. Per-athlete
overrides go through the same parameter checks, so a coach's typo is caught the same way.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from strideguard.rules.columns import ActivityTypes
from strideguard.rules.expressions import (
    CountParam,
    Expr,
    ExpressionError,
    FunctionSpec,
    Name,
    ValueType,
    bare_names,
    compile_expression,
    params_in,
)
from strideguard.rules.findings import LIMIT_KINDS, LimitKind
from strideguard.rules.metrics import (
    RUN_FUNCTIONS,
    RUN_METRICS,
    WEEK_FUNCTIONS,
    WEEK_METRICS,
    MetricSpec,
)
from strideguard.rules.yaml_source import Located, YamlSourceError, load_located

SHIPPED_RULES = Path(__file__).resolve().parent / "rules.yaml"
SEVERITIES = ("info", "warning", "high")
EXERCISE_FOCUS = ("trunk", "hips", "legs", "mobility", "load", "feet")
MAX_PARAM = 1e9

Per = Literal["week", "run"]


class ConfigError(Exception):
    """The rules file (or an override) is invalid; `.errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Advice:
    why: str | None
    do: str | None


@dataclass(frozen=True)
class LimitDefinition:
    """A rule's `limit:`: how far the runner can go next and stay inside its threshold.

    Computed as of the Monday after a judged week, before anything is run: window functions
    (prior_sum, prior_mean, longest_run_before, ...) then look back over the judged week and
    the ones before it. `low` and `when` are optional; a limit whose `when` is false, or whose
    `high` is not a positive number, has no figure yet.
    """

    kind: LimitKind
    high: Expr
    low: Expr | None = None
    when: Expr | None = None

    def expressions(self) -> list[Expr]:
        return [e for e in (self.high, self.low, self.when) if e is not None]


@dataclass(frozen=True)
class RuleDefinition:
    """One rule as the engine runs it: the YAML's text compiled into typed expressions."""

    id: str
    title: str
    enabled: bool
    severity: str
    per: Per
    params: Mapping[str, int | float]
    lets: tuple[tuple[str, Expr], ...]
    requires_history: Expr | None
    guards: tuple[Expr, ...]
    fires_when: Expr
    value: Expr | None
    # The figure shown next to `value` (rule key `shown_threshold`); it never decides firing.
    shown_threshold: Expr | None
    bands: tuple[tuple[str, int | float], ...]
    figures: tuple[tuple[str, Expr], ...]
    advice: Advice | None
    exercise_focus: list[str]
    description: str | None = None
    # parameters used as window lengths, with the whole-number range each function accepts
    count_params: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    needs_gear: bool = False
    # Where each expression was written ("fires_when", "let.pct", "guards[0]", ...), as
    # (line, column), so a failure found by running the rule points at the text to fix.
    positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    limit: LimitDefinition | None = None


@dataclass(frozen=True)
class RulesConfig:
    rules: Mapping[str, RuleDefinition]
    activity_types: ActivityTypes
    version: str
    source: str
    loaded_at: dt.datetime
    # `path:line:col: warning` lines: accepted, but to be fixed (e.g. a key's old name).
    warnings: tuple[str, ...] = ()

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> RulesConfig:
        """This config with one athlete's overrides on top; raises `ConfigError` if invalid."""
        if not overrides:
            return self
        problems: list[str] = []
        rules = dict(self.rules)
        if not isinstance(overrides, Mapping):
            raise ConfigError(["overrides: must map rule ids to {parameter: value}"])
        for rule_id, changes in overrides.items():
            where = f"overrides: {rule_id}"
            rule = self.rules.get(str(rule_id))
            if rule is None:
                problems.append(f"{where}: {_unknown('rule', str(rule_id), list(self.rules))}")
                continue
            if not isinstance(changes, Mapping):
                problems.append(f"{where}: must be a mapping of parameter: value")
                continue
            params = dict(rule.params)
            enabled = rule.enabled
            for key, value in changes.items():
                if key == "enabled":
                    if isinstance(value, bool):
                        enabled = value
                    else:
                        problems.append(f"{where}.enabled: must be true or false, not {value!r}")
                    continue
                if key not in params:
                    valid = [*params, "enabled"]
                    problems.append(f"{where}: {_unknown('parameter', str(key), valid)}")
                    continue
                problem = _param_problem(str(key), value, rule.count_params)
                if problem:
                    problems.append(f"{where}.{key}: {problem}")
                else:
                    params[str(key)] = value
            rules[rule.id] = replace(rule, params=params, enabled=enabled)
        if problems:
            raise ConfigError(problems)
        return replace(self, rules=rules)


def _unknown(kind: str, name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _param_problem(
    name: str, value: Any, count_params: Mapping[str, tuple[int, int]]
) -> str | None:
    if not _is_number(value):
        return f"must be a number, not {type(value).__name__} {value!r}"
    if not math.isfinite(value) or value < 0 or value > MAX_PARAM:
        return f"{value!r} is out of range (0 to {MAX_PARAM:.0f})"
    if name in count_params:
        low, high = count_params[name]
        if not (isinstance(value, int) and low <= value <= high):
            return f"{value!r} is out of range: a window length is a whole number {low} to {high}"
    return None


class _Problems:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: list[tuple[int, int, str]] = []
        self.warnings: list[tuple[int, int, str]] = []

    @staticmethod
    def position(where: Located, offset: int = 0) -> tuple[int, int]:
        column = where.mark.column + (where.text_offset + offset if where.single_line else 0)
        return where.mark.line, column

    def add(self, where: Located, message: str, offset: int = 0) -> None:
        self.lines.append((*self.position(where, offset), message))

    def warn(self, where: Located, message: str) -> None:
        self.warnings.append((*self.position(where), f"warning: {message}"))

    def rendered(self, lines: list[tuple[int, int, str]] | None = None) -> list[str]:
        chosen = self.lines if lines is None else lines
        return [f"{self.path}:{line}:{col}: {msg}" for line, col, msg in sorted(chosen)]


class _RuleScope:
    """Names a rule may use: its metrics and functions, its parameters, its `let` names."""

    def __init__(self, per: Per, params: Iterable[str]) -> None:
        self.metrics: Mapping[str, MetricSpec] = WEEK_METRICS if per == "week" else RUN_METRICS
        self.functions: Mapping[str, FunctionSpec] = (
            WEEK_FUNCTIONS if per == "week" else RUN_FUNCTIONS
        )
        self.params = set(params)
        self.lets: dict[str, ValueType] = {}

    def name_type(self, name: str) -> ValueType | None:
        if name in self.lets:
            return self.lets[name]
        if name in self.params:
            return "num"
        spec = self.metrics.get(name)
        return spec.type if spec else None

    def is_series(self, name: str) -> bool:
        spec = self.metrics.get(name)
        return spec is not None and spec.type == "num" and name not in self.lets

    def is_param(self, name: str) -> bool:
        return name in self.params

    def function(self, name: str) -> FunctionSpec | None:
        return self.functions.get(name)

    def suggestions(self) -> list[str]:
        return [*self.lets, *self.params, *self.metrics, *self.functions]


class _LimitScope(_RuleScope):
    """A limit's names: the rule's parameters and the look-back window functions, as of the
    Monday after the judged week (the week ahead has not been run, so it has no figures)."""

    def __init__(self, params: Iterable[str]) -> None:
        super().__init__("week", params)
        self.functions = {name: WEEK_FUNCTIONS[name] for name in _LIMIT_FUNCTIONS}

    def suggestions(self) -> list[str]:
        return [*self.params, *_LIMIT_METRICS, *self.functions]


# The rule-level key's name until it was mistaken for `params.threshold`; still read, with a
# warning, so an existing file keeps working.
OLD_SHOWN_THRESHOLD = "threshold"
_TOP_KEYS = ("version", "activity_types", "rules")
_TYPE_KEYS = ("running", "strength", "strength_min_moving_time_s", "hard_surface_excludes_manual")
_RULE_KEYS = (
    "title",
    "description",
    "enabled",
    "severity",
    "per",
    "params",
    "let",
    "requires_history",
    "guards",
    "fires_when",
    "value",
    "shown_threshold",
    OLD_SHOWN_THRESHOLD,
    "bands",
    "figures",
    "advice",
    "exercise_focus",
    "limit",
)
_LIMIT_KEYS = ("for", "max", "min", "when")
# Window functions a limit may use: each looks back from the Monday after the judged week.
_LIMIT_FUNCTIONS = (
    "prior_sum",
    "prior_mean",
    "prior_max",
    "known_weeks",
    "longest_run_before",
    "min",
    "max",
)
# Weekly metrics a limit may use as a value: they count what lies before the week ahead.
_LIMIT_METRICS = ("prior_weeks",)
_REQUIRED_RULE_KEYS = ("title", "enabled", "severity", "fires_when")
DEFAULT_TYPES = ActivityTypes(
    running=frozenset({"Run", "TrailRun", "VirtualRun"}),
    strength=frozenset({"WeightTraining", "Crossfit"}),
    strength_min_moving_time_s=600,
    hard_surface_excludes_manual=True,
)


class _Parser:
    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        # Where the current rule's expressions were written (see RuleDefinition.positions).
        self.positions: dict[str, tuple[int, int]] = {}

    def mapping(
        self, node: Located, what: str, allowed: Iterable[str] | None
    ) -> dict[str, Located]:
        if not isinstance(node.value, dict):
            self.problems.add(node, f"{what} must be a mapping (key: value)")
            return {}
        items: dict[str, Located] = node.value
        if allowed is not None:
            valid = list(allowed)
            for key in items:
                if key not in valid:
                    self.problems.add(self.key(node, key), f"{what}: {_unknown('key', key, valid)}")
        return items

    @staticmethod
    def key(node: Located, key: str) -> Located:
        """The position of a mapping key, for errors about the key rather than its value."""
        mark = (node.key_marks or {}).get(key)
        return Located(key, mark) if mark else node.value[key]

    def text(self, node: Located | None, what: str, *, optional: bool = False) -> str | None:
        if node is None or (optional and node.value is None):
            return None
        if not isinstance(node.value, str) or not node.value.strip():
            self.problems.add(node, f"{what} must be text, not {node.value!r}")
            return None
        return node.value

    def names(self, node: Located, what: str) -> frozenset[str] | None:
        if not isinstance(node.value, list) or not all(
            isinstance(item.value, str) for item in node.value
        ):
            self.problems.add(node, f"{what} must be a list of sport types, e.g. [Run, TrailRun]")
            return None
        return frozenset(item.value for item in node.value)

    def activity_types(self, node: Located | None) -> ActivityTypes:
        if node is None:
            return DEFAULT_TYPES
        items = self.mapping(node, "activity_types", _TYPE_KEYS)
        types = DEFAULT_TYPES
        if "running" in items and (running := self.names(items["running"], "running")):
            types = replace(types, running=running)
        if "strength" in items and (strength := self.names(items["strength"], "strength")):
            types = replace(types, strength=strength)
        minimum = items.get("strength_min_moving_time_s")
        if minimum is not None:
            if type(minimum.value) is int and 0 <= minimum.value <= 86_400:
                types = replace(types, strength_min_moving_time_s=minimum.value)
            else:
                self.problems.add(
                    minimum, "strength_min_moving_time_s must be whole seconds from 0 to 86400"
                )
        manual = items.get("hard_surface_excludes_manual")
        if manual is not None:
            if isinstance(manual.value, bool):
                types = replace(types, hard_surface_excludes_manual=manual.value)
            else:
                self.problems.add(manual, "hard_surface_excludes_manual must be true or false")
        return types

    def expression(
        self, node: Located, scope: _RuleScope, what: str, want: ValueType
    ) -> Expr | None:
        if _is_number(node.value):
            text = str(node.value)
        elif isinstance(node.value, str):
            # A `|` block keeps its line breaks; an expression reads them as spaces.
            text = " ".join(node.value.splitlines())
        else:
            self.problems.add(node, f"{what} must be an expression, not {node.value!r}")
            return None
        self.positions[what] = self.problems.position(node)
        try:
            expr = compile_expression(text, scope)
        except ExpressionError as exc:
            self.problems.add(node, f"{what}: {exc.message}", exc.offset)
            return None
        if want == "bool" and expr.type != "bool":
            self.problems.add(node, f"{what} must be a condition (a comparison such as x > 3)")
            return None
        if want == "num" and expr.type != "num":
            kind = {"bool": "a condition", "date": "a date", "text": "text"}[expr.type]
            self.problems.add(node, f"{what} must be a number, not {kind}")
            return None
        return expr

    def params(
        self, node: Located | None, scope_names: set[str]
    ) -> tuple[dict[str, int | float], set[str]]:
        """The valid parameters, and every declared name (so a bad value is reported once)."""
        if node is None:
            return {}, set()
        params: dict[str, int | float] = {}
        items = self.mapping(node, "params", None)
        for name, value in items.items():
            if not name.isidentifier():
                self.problems.add(
                    self.key(node, name), f"parameter name {name!r} must be a plain word"
                )
            elif name in scope_names:
                self.problems.add(
                    self.key(node, name),
                    f"parameter {name!r} has the name of a metric or function; rename it",
                )
            elif (problem := _param_problem(name, value.value, {})) is not None:
                self.problems.add(value, f"params.{name}: {problem}")
            else:
                params[name] = value.value
        return params, set(items)

    def shown_threshold(
        self,
        rule_id: str,
        items: dict[str, Located],
        node: Located,
        scope: _RuleScope,
        deciding: frozenset[str] | None,
    ) -> Expr | None:
        """The figure shown as the threshold, refused when it cannot be what the rule fires on.

        A literal number there was read as "the threshold" and changed nothing but the text,
        so it must name a parameter that the condition (`fires_when`, or a `let` it uses) uses.
        """
        key = "shown_threshold"
        if OLD_SHOWN_THRESHOLD in items:
            where = self.key(node, OLD_SHOWN_THRESHOLD)
            if key in items:
                self.problems.add(
                    where,
                    f"rule {rule_id}: 'threshold' is the old name of 'shown_threshold'; "
                    "keep only 'shown_threshold'",
                )
                return None
            key = OLD_SHOWN_THRESHOLD
            self.problems.warn(
                where,
                f"rule {rule_id}: the rule-level 'threshold:' is now called 'shown_threshold:' "
                "(the figure shown next to the value); rename it. To change when the rule "
                "fires, set params.threshold (or the parameter fires_when uses).",
            )
        if key not in items:
            return None
        value = items[key]
        uses = "params.threshold" if "threshold" in scope.params else "a parameter in params"
        example = f"{key}: threshold, with threshold in params and in fires_when"
        if _is_number(value.value):
            self.problems.add(
                value,
                f"{key}: {value.value!r} is only the figure shown next to the value; it does "
                f"not change when the rule fires. Set the number in {uses} and write "
                f"'{key}: <that parameter>' here",
            )
            return None
        expr = self.expression(value, scope, key, "num")
        # The engine names this part "shown_threshold" whichever key it was written under.
        self.positions["shown_threshold"] = self.positions.pop(key)
        if expr is not None and deciding is not None and not (expr.names & scope.params & deciding):
            self.problems.add(
                value,
                f"{key} must name a parameter that fires_when uses, so the figure shown is "
                f"the one the rule fires on (e.g. {example})",
            )
            return None
        return expr

    def rule(self, rule_id: str, key: Located, node: Located) -> RuleDefinition | None:
        before = len(self.problems.lines)
        self.positions = {"rule": self.problems.position(key)}
        if not rule_id.isidentifier() or not rule_id.islower():
            self.problems.add(key, f"rule id {rule_id!r} must be lower_case_with_underscores")
        items = self.mapping(node, f"rule {rule_id}", _RULE_KEYS)
        if not items:
            return None
        for required in _REQUIRED_RULE_KEYS:
            if required not in items:
                self.problems.add(key, f"rule {rule_id}: missing required key {required!r}")
        per: Per = "week"
        if "per" in items:
            if items["per"].value in ("week", "run"):
                per = items["per"].value
            else:
                self.problems.add(items["per"], "per must be 'week' or 'run'")
        catalog_names = set(WEEK_METRICS if per == "week" else RUN_METRICS) | set(
            WEEK_FUNCTIONS if per == "week" else RUN_FUNCTIONS
        )
        params, declared = self.params(items.get("params"), catalog_names)
        scope = _RuleScope(per, declared)

        lets: list[tuple[str, Expr]] = []
        if "let" in items:
            for name, value in self.mapping(items["let"], "let", None).items():
                if not name.isidentifier() or name in catalog_names or name in params:
                    self.problems.add(
                        self.key(items["let"], name),
                        f"let name {name!r} is taken (a metric, function or parameter) "
                        "or not a plain word",
                    )
                    continue
                expr = self.expression(value, scope, f"let.{name}", "num")
                # A broken let is still declared, so its uses do not report it again.
                scope.lets[name] = expr.type if expr is not None else "num"
                if expr is not None:
                    lets.append((name, expr))

        def optional_expr(key: str, want: ValueType) -> Expr | None:
            return self.expression(items[key], scope, key, want) if key in items else None

        requires_history = optional_expr("requires_history", "bool")
        guards: list[Expr] = []
        if "guards" in items:
            if isinstance(items["guards"].value, list):
                for i, guard in enumerate(items["guards"].value):
                    expr = self.expression(guard, scope, f"guards[{i}]", "bool")
                    if expr is not None:
                        guards.append(expr)
            else:
                self.problems.add(items["guards"], "guards must be a list of conditions")
        fires_when = optional_expr("fires_when", "bool")
        value_expr = optional_expr("value", "num")
        threshold = self.shown_threshold(
            rule_id, items, node, scope, _deciding_names(fires_when, lets)
        )
        bands = self.bands(items.get("bands"))
        figures = self.figures(items.get("figures"), scope, fires_when, lets)
        limit = self.limit(rule_id, items.get("limit"), declared, _deciding_names(fires_when, lets))
        title = self.text(items.get("title"), "title")
        severity = items.get("severity")
        if severity is not None and severity.value not in SEVERITIES:
            self.problems.add(
                severity,
                f"severity {severity.value!r} is not one of {', '.join(SEVERITIES)}"
                + _hint(severity.value, SEVERITIES),
            )
        enabled = items.get("enabled")
        if enabled is not None and not isinstance(enabled.value, bool):
            self.problems.add(enabled, f"enabled must be true or false, not {enabled.value!r}")
        focus = self.focus(items.get("exercise_focus"))
        advice = self.advice(items.get("advice"))
        description = self.text(items.get("description"), "description", optional=True)

        count_params: dict[str, tuple[int, int]] = {}
        functions = WEEK_FUNCTIONS if per == "week" else RUN_FUNCTIONS
        all_exprs = [e for _, e in lets] + guards + [e for _, e in figures]
        all_exprs += [e for e in (requires_history, fires_when, value_expr, threshold) if e]
        # A limit is computed on the weekly calendar whatever `per` is.
        scoped = [(e, functions) for e in all_exprs]
        scoped += [(e, WEEK_FUNCTIONS) for e in (limit.expressions() if limit else [])]
        for expr, catalog in scoped:
            for function, param in params_in(expr):
                count_params[param] = catalog[function].count_range
        for name, (low, high) in count_params.items():
            problem = _param_problem(name, params.get(name), {name: (low, high)})
            if name in params and problem:
                self.problems.add(items["params"].value[name], f"params.{name}: {problem}")
        if len(self.problems.lines) > before or fires_when is None or title is None:
            return None
        assert severity is not None
        assert enabled is not None
        metrics = WEEK_METRICS if per == "week" else RUN_METRICS
        used = set().union(*(e.names for e in all_exprs))
        return RuleDefinition(
            id=rule_id,
            title=title,
            enabled=enabled.value,
            severity=severity.value,
            per=per,
            params=params,
            lets=tuple(lets),
            requires_history=requires_history,
            guards=tuple(guards),
            fires_when=fires_when,
            value=value_expr,
            shown_threshold=threshold,
            bands=bands,
            figures=figures,
            advice=advice,
            exercise_focus=focus,
            description=description,
            count_params=count_params,
            needs_gear=any(metrics[n].needs_gear for n in used if n in metrics),
            positions=self.positions,
            limit=limit,
        )

    def limit(
        self,
        rule_id: str,
        node: Located | None,
        params: set[str],
        deciding: frozenset[str] | None,
    ) -> LimitDefinition | None:
        """`limit: {for, max, min?, when?}`, checked like every other expression, plus: no
        figure of the week ahead, and `max` must use a parameter the condition uses (so an
        admin's or a coach's threshold moves the limit with it)."""
        if node is None:
            return None
        items = self.mapping(node, "limit", _LIMIT_KEYS)
        if not items:
            return None
        kind = items.get("for")
        if kind is None or kind.value not in LIMIT_KINDS:
            where = kind if kind is not None else node
            got = "" if kind is None else f", not {kind.value!r}"
            self.problems.add(
                where,
                f"limit.for must be one of {', '.join(LIMIT_KINDS)}{got}"
                + ("" if kind is None else _hint(kind.value, LIMIT_KINDS)),
            )
        if "max" not in items:
            self.problems.add(node, f"rule {rule_id}: limit needs 'max' (the highest figure)")
        scope = _LimitScope(params)
        wanted: dict[str, ValueType] = {"max": "num", "min": "num", "when": "bool"}
        parts: dict[str, Expr | None] = {}
        for key, want in wanted.items():
            if key in items:
                parts[key] = self.limit_expression(items[key], scope, f"limit.{key}", want)
        high = parts.get("max")
        if high is not None and deciding is not None and not (high.names & params & deciding):
            self.problems.add(
                items["max"],
                "limit.max must use a parameter that fires_when uses, so the limit moves with "
                "the threshold (e.g. longest_run_before(window_days) * (100 + threshold) / 100)",
            )
            return None
        if high is None or kind is None or kind.value not in LIMIT_KINDS:
            return None
        return LimitDefinition(kind.value, high, parts.get("min"), parts.get("when"))

    def limit_expression(
        self, node: Located, scope: _LimitScope, what: str, want: ValueType
    ) -> Expr | None:
        expr = self.expression(node, scope, what, want)
        if expr is None:
            return None
        for name in bare_names(expr):
            if name in WEEK_METRICS and name not in _LIMIT_METRICS:
                text = node.value if isinstance(node.value, str) else ""
                self.problems.add(
                    node,
                    f"{what}: {name!r} is a figure of the week itself, and a limit is "
                    "computed for the week ahead before it is run; look back with a window "
                    f"function instead, e.g. prior_sum({name}, 1) for the week just judged",
                    max(text.find(name), 0),
                )
                return None
        return expr

    def bands(self, node: Located | None) -> tuple[tuple[str, int | float], ...]:
        if node is None:
            return ()
        bands: list[tuple[str, int | float]] = []
        for name, bound in self.mapping(node, "bands", None).items():
            if not _is_number(bound.value) or not math.isfinite(bound.value):
                self.problems.add(bound, f"bands.{name} must be a number (the band's lower bound)")
            elif bands and bound.value <= bands[-1][1]:
                self.problems.add(bound, f"bands.{name}: bounds must increase from band to band")
            else:
                bands.append((name, bound.value))
        return tuple(bands)

    def figures(
        self,
        node: Located | None,
        scope: _RuleScope,
        fires_when: Expr | None,
        lets: list[tuple[str, Expr]],
    ) -> tuple[tuple[str, Expr], ...]:
        if node is None:
            # Admin rules show what their condition looked at, by name.
            used = fires_when.names if fires_when else frozenset()
            shown = [n for n in (*scope.lets, *scope.metrics) if n in used]
            return tuple((n, Name(scope.name_type(n) or "num", frozenset([n]), n)) for n in shown)
        figures: list[tuple[str, Expr]] = []
        for name, value in self.mapping(node, "figures", None).items():
            bare = value.value if isinstance(value.value, str) else None
            spec = scope.metrics.get(bare) if bare else None
            if spec is not None and spec.type in ("date", "text"):
                figures.append((name, Name(spec.type, frozenset([bare or ""]), bare or "")))
                continue
            expr = self.expression(value, scope, f"figures.{name}", "num")
            if expr is not None:
                figures.append((name, expr))
        return tuple(figures)

    def focus(self, node: Located | None) -> list[str]:
        if node is None:
            return []
        if not isinstance(node.value, list):
            self.problems.add(node, "exercise_focus must be a list, e.g. [trunk, hips]")
            return []
        tags: list[str] = []
        for item in node.value:
            if item.value in EXERCISE_FOCUS:
                tags.append(item.value)
            else:
                self.problems.add(
                    item,
                    f"exercise_focus {item.value!r} is not one of {', '.join(EXERCISE_FOCUS)}"
                    + _hint(item.value, EXERCISE_FOCUS),
                )
        return tags

    def advice(self, node: Located | None) -> Advice | None:
        if node is None or node.value is None:
            return None
        items = self.mapping(node, "advice", ("why", "do"))
        return Advice(
            why=self.text(items.get("why"), "advice.why", optional=True),
            do=self.text(items.get("do"), "advice.do", optional=True),
        )


def _deciding_names(fires_when: Expr | None, lets: list[tuple[str, Expr]]) -> frozenset[str] | None:
    """Every name the condition depends on, through the `let` values it uses (None: the
    condition is broken and reported already)."""
    if fires_when is None:
        return None
    let_names = dict(lets)
    seen: set[str] = set()
    todo = list(fires_when.names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            if name in let_names:
                todo.extend(let_names[name].names)
    return frozenset(seen)


def _hint(value: object, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), list(valid), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def parse_config(text: str, source: str) -> RulesConfig:
    """A checked config from YAML text; `source` names the file in error lines."""
    problems = _Problems(source)
    try:
        root = load_located(text)
    except YamlSourceError as exc:
        raise ConfigError([f"{source}:{exc.mark.line}:{exc.mark.column}: {exc.message}"]) from None
    parser = _Parser(problems)
    top = parser.mapping(root, "the file", _TOP_KEYS)
    version = top.get("version")
    if version is not None and version.value != 1:
        problems.add(version, f"version {version.value!r} is not supported; use version: 1")
    types = parser.activity_types(top.get("activity_types"))
    rules: dict[str, RuleDefinition] = {}
    if "rules" not in top:
        if isinstance(root.value, dict):
            problems.add(root, "missing the 'rules' mapping")
    else:
        rules_node = top["rules"]
        for rule_id, node in parser.mapping(rules_node, "rules", None).items():
            rule = parser.rule(rule_id, parser.key(rules_node, rule_id), node)
            if rule is not None:
                rules[rule_id] = rule
    if problems.lines:
        raise ConfigError(problems.rendered())
    return RulesConfig(
        rules=rules,
        activity_types=types,
        version=hashlib.sha256(text.encode()).hexdigest(),
        source=source,
        loaded_at=dt.datetime.now(dt.UTC),
        warnings=tuple(problems.rendered(problems.warnings)),
    )


__all__ = [
    "SHIPPED_RULES",
    "Advice",
    "ConfigError",
    "CountParam",
    "LimitDefinition",
    "RuleDefinition",
    "RulesConfig",
    "parse_config",
]
