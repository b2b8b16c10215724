"""Small builders for activities, so each worked example reads like its RULES.md sentence."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence

from strideguard.rules import ActivityRecord, Finding

_ids = itertools.count(1000)


def activity(
    day: dt.date,
    metres: int,
    *,
    sport: str = "Run",
    hour: int = 8,
    minute: int = 0,
    trainer: bool = False,
    manual: bool = False,
    gain_dm: int = 0,
    moving_s: int = 3600,
    gear_id: str | None = None,
    strava_id: int | None = None,
) -> ActivityRecord:
    local = dt.datetime.combine(day, dt.time(hour, minute))
    return ActivityRecord(
        activity_id=strava_id if strava_id is not None else next(_ids),
        athlete_id=1,
        sport_type=sport,
        start_date=local.replace(tzinfo=dt.UTC),
        start_date_local=local,
        timezone="UTC",
        distance_m=metres,
        moving_time_s=moving_s,
        elevation_gain_dm=gain_dm,
        trainer=trainer,
        manual=manual,
        gear_id=gear_id,
    )


def strength(day: dt.date, *, minutes: int = 30, hour: int = 18) -> ActivityRecord:
    return activity(day, 0, sport="WeightTraining", hour=hour, moving_s=minutes * 60)


def weeks_of_runs(
    first_monday: dt.date, weekly_m: Sequence[int], *, runs_per_week: int = 4
) -> list[ActivityRecord]:
    """Each week's metres split over Monday..(runs_per_week days), whole metres, exact sum."""
    acts: list[ActivityRecord] = []
    for week, total in enumerate(weekly_m):
        if total == 0:
            continue
        share, rest = divmod(total, runs_per_week)
        for day in range(runs_per_week):
            metres = share + (rest if day == 0 else 0)
            acts.append(activity(first_monday + dt.timedelta(weeks=week, days=day), metres))
    return acts


def only(findings: Iterable[Finding], rule: str, week_start: dt.date | None = None) -> Finding:
    matches = [
        f for f in findings if f.rule == rule and (week_start is None or f.week_start == week_start)
    ]
    assert len(matches) == 1, f"expected one {rule} finding, got {len(matches)}"
    return matches[0]


def of_rule(findings: Iterable[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]
