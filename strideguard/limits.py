"""Which of the rules' limits a runner is shown: every message and page picks the same one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tightest_limits(limits: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Per kind (next_run, next_week), the limit to show: the lowest figure, if two rules
    give one; a limit without a figure only when no rule of that kind has one."""
    shown: dict[str, Mapping[str, Any]] = {}
    for limit in limits:
        kind = str(limit["kind"])
        current = shown.get(kind)
        high = limit.get("high_m")
        if current is None or (
            high is not None and (current.get("high_m") is None or high < current["high_m"])
        ):
            shown[kind] = limit
    return shown
