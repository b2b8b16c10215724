"""Per-athlete rule overrides a coach sets: `RULE.PARAM=VALUE`, checked before anything is saved.

The command line and the admin page both go through `apply_changes`, which validates the whole
result with `RulesConfig.with_overrides`, the same check `rules check` and the worker apply, so
a typo such as `treshold` is refused with a "did you mean" instead of being stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from strideguard.rules import ConfigError, RulesConfig

Overrides = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Change:
    rule: str
    param: str
    value: Any = None  # ignored when clearing


class OverrideError(ValueError):
    """Every problem with the requested changes, one line each; nothing was saved."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_key(text: str) -> tuple[str, str]:
    """`weekly_distance_spike.threshold` -> (rule, param)."""
    rule, dot, param = text.strip().partition(".")
    if not dot or not rule or not param:
        raise OverrideError([f"{text!r}: write RULE.PARAM, e.g. weekly_distance_spike.threshold"])
    return rule, param


def parse_assignment(text: str) -> Change:
    """`RULE.PARAM=VALUE`; the value is read as YAML, so 40, 12.5 and false keep their type."""
    key, equals, raw = text.partition("=")
    if not equals or not raw.strip():
        raise OverrideError(
            [f"{text!r}: write RULE.PARAM=VALUE, e.g. weekly_distance_spike.threshold=40"]
        )
    rule, param = parse_key(key)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw.strip()
    return Change(rule, param, value)


def apply_changes(
    config: RulesConfig,
    current: Mapping[str, Any] | None,
    set_: Iterable[Change] = (),
    clear: Iterable[tuple[str, str]] = (),
) -> Overrides:
    """The overrides after the changes, valid against `config`; raises `OverrideError`."""
    result: Overrides = {
        str(rule): dict(params)
        for rule, params in (current or {}).items()
        if isinstance(params, Mapping)
    }
    problems: list[str] = []
    for rule, param in clear:
        if param not in result.get(rule, {}):
            problems.append(f"{rule}.{param}: no override to clear (see --list)")
            continue
        del result[rule][param]
        if not result[rule]:
            del result[rule]
    for change in set_:
        result.setdefault(change.rule, {})[change.param] = change.value
    if problems:
        raise OverrideError(problems)
    problems = override_problems(config, result)
    if problems:
        raise OverrideError(problems)
    return result


def override_problems(config: RulesConfig, overrides: Mapping[str, Any] | None) -> list[str]:
    """Why stored overrides are invalid (e.g. written by hand before they were checked)."""
    try:
        config.with_overrides(overrides)
    except ConfigError as exc:
        return [line.removeprefix("overrides: ") for line in exc.errors]
    return []


@dataclass(frozen=True)
class OverrideRow:
    rule: str
    param: str
    value: Any
    default: Any  # the rules file's value, shown next to the override


def override_rows(config: RulesConfig, overrides: Mapping[str, Any] | None) -> list[OverrideRow]:
    """Each override next to the value the rules file would use."""
    rows = []
    for rule_id, params in sorted((overrides or {}).items()):
        rule = config.rules.get(rule_id)
        for param, value in sorted(params.items() if isinstance(params, Mapping) else []):
            default: Any
            if rule is None:
                default = None
            elif param == "enabled":
                default = rule.enabled
            else:
                default = rule.params.get(param)
            rows.append(OverrideRow(rule_id, param, value, default))
    return rows
