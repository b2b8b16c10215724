"""A rule's verdict for one athlete-week (or one run), in the JSON shape alerts and emails use."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["fired", "clear", "insufficient_history", "no_baseline", "disabled", "error"]
# Indexed by the engine's status codes (rules/evaluate.py); "error": the rule could not be
# evaluated (see `Finding.error`), while the other rules were.
STATUSES: tuple[Status, ...] = (
    "fired",
    "clear",
    "insufficient_history",
    "no_baseline",
    "disabled",
    "error",
)
Figure = int | float | str | None


def shown(value: Figure) -> str:
    """A figure as a table shows it: three significant figures or so (11.839 -> 11.8)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value, 1) if abs(value) >= 10 else round(value, 2))
    return str(value)


@dataclass(frozen=True)
class Finding:
    """What a rule concluded and the figures a human needs to check it.

    Distances in `figures` are integer metres; the email formats them in the runner's units.
    """

    rule: str
    title: str
    severity: str
    week_start: dt.date
    status: Status
    value: int | float | None
    threshold: int | float | None
    band: str | None = None
    activity_id: int | None = None
    date: dt.date | None = None
    figures: Mapping[str, Figure] = field(default_factory=dict)
    advice_why: str | None = None
    advice_do: str | None = None
    exercise_focus: tuple[str, ...] = ()
    # Why the rule could not be evaluated (status "error"): the part of the rule and the cause.
    error: str | None = None

    @property
    def fired(self) -> bool:
        return self.status == "fired"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity,
            "week_start": self.week_start.isoformat(),
            "status": self.status,
            "value": self.value,
            "threshold": self.threshold,
            "band": self.band,
            "activity_id": self.activity_id,
            "date": self.date.isoformat() if self.date else None,
            "figures": dict(self.figures),
            "advice": {"why": self.advice_why, "do": self.advice_do},
            "exercise_focus": list(self.exercise_focus),
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> Finding:
        """The inverse of `to_dict`, so JSON read back from the database is parsed once.

        Keys `to_dict` does not write are left to the caller (an alert stores `other_runs`
        beside them, a risky run its `limits`). JSON stored before a rule could fail on its
        own has no `error`.
        """
        advice = stored["advice"]
        return cls(
            rule=stored["rule"],
            title=stored["title"],
            severity=stored["severity"],
            week_start=dt.date.fromisoformat(stored["week_start"]),
            status=stored["status"],
            value=stored["value"],
            threshold=stored["threshold"],
            band=stored["band"],
            activity_id=stored["activity_id"],
            date=dt.date.fromisoformat(stored["date"]) if stored["date"] else None,
            figures=dict(stored["figures"]),
            advice_why=advice["why"],
            advice_do=advice["do"],
            exercise_focus=tuple(stored["exercise_focus"]),
            error=stored.get("error"),
        )


LimitKind = Literal["next_run", "next_week"]
LIMIT_KINDS: tuple[LimitKind, ...] = ("next_run", "next_week")


@dataclass(frozen=True)
class Limit:
    """How far the runner can go after `week_start`'s week and stay inside one rule's threshold.

    `next_run`: the longest next run; `next_week`: next week's total, from `low_m` to `high_m`.
    Whole metres, computed from the rule's own parameters (so a coach's override moves it);
    `high_m` is None when there is nothing to compare with yet (no recent runs).
    """

    rule: str
    kind: LimitKind
    week_start: dt.date
    high_m: int | None
    low_m: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "week_start": self.week_start.isoformat(),
            "low_m": self.low_m,
            "high_m": self.high_m,
        }
