"""Running figures read from the activity rows, for the messages that show them.

Activity rows are kept only RETENTION_DAYS, so a message rendered long after the sync that
stored them may show fewer weeks; the purge waits for messages on their way
(integrations/strava/sync_jobs.py, `purge_busy_reason`), so a fresh one sees every row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.activity_sources import counted
from strideguard.models import Activity
from strideguard.times import WEEK, week_start_of

CHART_WEEKS = 8


def _running_rows(
    session: Session,
    athlete_id: int,
    first: dt.date,
    end: dt.date,
    running: Collection[str],
) -> list[tuple[dt.datetime, int]]:
    """(local start, metres) of the running activities on local days [first, end)."""
    rows = session.execute(
        select(Activity.start_date_local, Activity.distance_m).where(
            Activity.athlete_id == athlete_id,
            counted(),  # a run from Strava and a file once
            Activity.sport_type.in_(sorted(running)),
            Activity.start_date_local >= dt.datetime.combine(first, dt.time()),
            Activity.start_date_local < dt.datetime.combine(end, dt.time()),
        )
    ).all()
    return [(start, int(metres)) for start, metres in rows]


def weekly_running_m(
    session: Session, athlete_id: int, week_start: dt.date, running: Collection[str]
) -> dict[dt.date, int]:
    """Running metres per week for the chart's 8 weeks ending with `week_start`; weeks with
    no rows stay absent (shown blank)."""
    first = week_start - (CHART_WEEKS - 1) * WEEK
    totals: dict[dt.date, int] = {}
    for start_local, metres in _running_rows(
        session, athlete_id, first, week_start + WEEK, running
    ):
        monday = week_start_of(start_local.date())
        totals[monday] = totals.get(monday, 0) + metres
    return totals


@dataclass(frozen=True)
class WeekRuns:
    distance_m: int
    runs: int
    longest_m: int


def week_runs(
    session: Session,
    athlete_id: int,
    first_week: dt.date,
    last_week: dt.date,
    running: Collection[str],
) -> WeekRuns:
    """Total, count and longest of the runs in the weeks from `first_week` to `last_week`."""
    distances = [
        m for _, m in _running_rows(session, athlete_id, first_week, last_week + WEEK, running)
    ]
    return WeekRuns(sum(distances), len(distances), max(distances, default=0))
