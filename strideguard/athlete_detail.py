"""One athlete as a coach or admin looks at them: settings, sources, recent weeks, deliveries.

Read from the database only, and shared by `strideguard athlete show` and the admin page, so
both show the same facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from strideguard.activity_sources import FILE, STRAVA, counted
from strideguard.models import Activity, Alert, Athlete, DeliveryRecord, Evaluation
from strideguard.times import week_start_of, zone_or_utc
from strideguard.web.admin_queries import channel_rows
from strideguard.worker.weeks import WEEK, due_at

RECENT_WEEKS = 8


@dataclass(frozen=True)
class WeekRow:
    week_start: dt.date
    running_m: int
    runs: int
    evaluation_id: int | None
    evaluation: str | None  # pending | done | failed | skipped, None when never scheduled
    evaluation_error: str | None
    findings: list[dict[str, Any]]  # the fired findings stored as alerts


@dataclass(frozen=True)
class SourceMatch:
    """One run found in both sources: the copy counted and the one left out."""

    start_local: dt.datetime
    distance_m: int
    counted: str  # "file a.fit" or "strava 123"
    left_out: str


@dataclass(frozen=True)
class Delivery:
    id: int
    week_start: dt.date
    status: str
    attempts: int
    last_error: str | None
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class AthleteDetail:
    id: int
    strava_athlete_id: int | None
    firstname: str | None
    settings: dict[str, Any]
    overrides: dict[str, Any]
    sources: dict[str, Any]
    channels: dict[str, Any]
    next_evaluation_at: dt.datetime
    weeks: list[WeekRow]
    deliveries: list[Delivery]
    matches: list[SourceMatch] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = jsonable(asdict(self))
        return result


def jsonable(value: Any) -> Any:
    """Dates and times as ISO text, for `--format json`."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def load(
    session: Session,
    athlete_id: int,
    now: dt.datetime,
    grace: dt.timedelta,
    running: frozenset[str],
) -> AthleteDetail | None:
    """`running`: the sport types the rules count as running (for the weekly figures)."""
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        return None
    zone = zone_or_utc(athlete.timezone)
    this_week = week_start_of(now.astimezone(zone).date())
    first = this_week - RECENT_WEEKS * WEEK
    connection = athlete.connection
    stored = session.execute(
        select(
            func.count(), func.min(Activity.start_date_local), func.max(Activity.start_date_local)
        ).where(Activity.athlete_id == athlete_id)
    ).one()
    by_source = dict(
        session.execute(
            select(Activity.source, func.count())
            .where(Activity.athlete_id == athlete_id)
            .group_by(Activity.source)
        ).all()
    )
    return AthleteDetail(
        id=athlete.id,
        strava_athlete_id=athlete.strava_athlete_id,
        firstname=athlete.firstname,
        settings={
            "units": athlete.units,
            "timezone": athlete.timezone,
            "muted_rules": list(athlete.muted_rules or []),
            "paused_until": athlete.paused_until,
        },
        overrides=dict(athlete.rule_overrides or {}),
        sources={
            "strava": connection.status if connection else "none",
            "last_synced_at": connection.last_synced_at if connection else None,
            "sync_error": connection.last_error if connection else None,
            "stored_activities": stored[0],
            "strava_activities": by_source.get(STRAVA, 0),
            "file_activities": by_source.get(FILE, 0),
            "oldest_activity": stored[1],
            "newest_activity": stored[2],
        },
        channels={
            "email": athlete.email,
            "email_status": athlete.email_status,
            "email_status_reason": athlete.email_status_reason,
            # Push/chat channels by label and status, never the URL (it holds a secret).
            "apprise": [
                asdict(row) for row in channel_rows(session, [athlete_id]).get(athlete_id, [])
            ],
        },
        next_evaluation_at=due_at(this_week, zone, grace),
        weeks=_weeks(session, athlete_id, first, this_week, running),
        matches=_matches(session, athlete_id),
        deliveries=[
            Delivery(row.id, row.week_start, row.status, row.attempts, row.last_error, row.sent_at)
            for row in session.scalars(
                select(DeliveryRecord)
                .where(DeliveryRecord.athlete_id == athlete_id)
                .order_by(DeliveryRecord.week_start.desc())
                .limit(RECENT_WEEKS * 2)
            )
        ],
    )


def _weeks(
    session: Session, athlete_id: int, first: dt.date, last: dt.date, running: frozenset[str]
) -> list[WeekRow]:
    """The closed weeks from `first` up to (not including) `last`, newest first."""
    totals: dict[dt.date, list[int]] = {}
    for start_local, distance_m, sport in session.execute(
        select(Activity.start_date_local, Activity.distance_m, Activity.sport_type).where(
            Activity.athlete_id == athlete_id,
            counted(),
            Activity.start_date_local >= dt.datetime.combine(first, dt.time()),
        )
    ):
        if sport in running:
            tally = totals.setdefault(week_start_of(start_local.date()), [0, 0])
            tally[0] += int(distance_m)
            tally[1] += 1
    evaluations = {
        row.week_start: row
        for row in session.scalars(
            select(Evaluation).where(
                Evaluation.athlete_id == athlete_id, Evaluation.week_start >= first
            )
        )
    }
    alerts: dict[dt.date, list[dict[str, Any]]] = {}
    for alert in session.scalars(
        select(Alert)
        .where(Alert.athlete_id == athlete_id, Alert.week_start >= first)
        .order_by(Alert.id)
    ):
        alerts.setdefault(alert.week_start, []).append(dict(alert.finding or {}))
    rows = []
    week = last - WEEK
    while week >= first:
        evaluation = evaluations.get(week)
        running_m, runs = totals.get(week, [0, 0])
        rows.append(
            WeekRow(
                week_start=week,
                running_m=running_m,
                runs=runs,
                evaluation_id=evaluation.id if evaluation else None,
                evaluation=evaluation.status if evaluation else None,
                evaluation_error=evaluation.last_error if evaluation else None,
                findings=alerts.get(week, []),
            )
        )
        week -= WEEK
    return rows


def _matches(session: Session, athlete_id: int) -> list[SourceMatch]:
    """The runs both sources hold, newest first: which copy counts (the better data)."""
    kept = aliased(Activity)
    rows = session.execute(
        select(Activity, kept)
        .join(kept, kept.strava_id == Activity.matched_id)
        .where(Activity.athlete_id == athlete_id)
        .order_by(kept.start_date.desc())
    ).all()
    return [
        SourceMatch(good.start_date_local, good.distance_m, _copy_name(good), _copy_name(dropped))
        for dropped, good in rows
    ]


def _copy_name(row: Activity) -> str:
    if row.source == FILE:
        return f"file {row.file_name or '(unnamed)'}"
    return f"strava {row.strava_id}"
