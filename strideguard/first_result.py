"""What the connected page says was found: the first backfill's runs, the ceilings the
welcome job judged, the last closed week's outcome and where the welcome went.

Read from the rows the jobs leave (strava_connections.backfilled_at, activities, the last
closed week's evaluation and its alerts, the welcome's delivery), so the page needs no job of
its own and a reload shows the latest state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard.limits import tightest_limits
from strideguard.models import (
    Activity,
    Alert,
    Athlete,
    DeliveryRecord,
    Evaluation,
    StravaConnection,
)
from strideguard.rules.config import DEFAULT_TYPES
from strideguard.status import DeliveryKind, DeliveryStatus, EvaluationStatus
from strideguard.times import WEEK, week_start_of, zone_or_utc


@dataclass(frozen=True)
class FirstResult:
    """`backfilled` False: the first read from Strava is still running (the rest is empty)."""

    backfilled: bool
    email: str | None
    units: str
    runs: int = 0
    total_m: int = 0
    longest_m: int = 0
    next_run_m: int | None = None
    next_week_low_m: int | None = None
    next_week_high_m: int | None = None
    last_week: dt.date | None = None
    # How many checks the last closed week tripped; None while it is not judged.
    last_week_fired: int | None = None
    welcome_sent: bool = False


def load_first_result(session: Session, athlete_id: int, now: dt.datetime) -> FirstResult | None:
    """None when the athlete is gone (disconnected since)."""
    athlete = session.get(Athlete, athlete_id)
    if athlete is None:
        return None
    backfilled_at = session.scalar(
        select(StravaConnection.backfilled_at).where(StravaConnection.athlete_id == athlete_id)
    )
    if backfilled_at is None:
        return FirstResult(False, athlete.email, athlete.units)
    runs, total_m, longest_m = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Activity.distance_m), 0),
            func.coalesce(func.max(Activity.distance_m), 0),
        ).where(
            Activity.athlete_id == athlete_id,
            Activity.sport_type.in_(sorted(DEFAULT_TYPES.running)),
        )
    ).one()
    last_week = week_start_of(now.astimezone(zone_or_utc(athlete.timezone)).date()) - WEEK
    evaluation = session.execute(
        select(Evaluation.status, Evaluation.limits).where(
            Evaluation.athlete_id == athlete_id, Evaluation.week_start == last_week
        )
    ).one_or_none()
    shown = tightest_limits((evaluation.limits if evaluation else None) or [])
    next_run = shown.get("next_run", {})
    next_week = shown.get("next_week", {})
    fired = None
    if evaluation is not None and evaluation.status == EvaluationStatus.DONE:
        fired = session.scalar(
            select(func.count()).where(
                Alert.athlete_id == athlete_id,
                Alert.week_start == last_week,
                Alert.late.is_(False),
            )
        )
    welcome_sent = session.scalar(
        select(func.count()).where(
            DeliveryRecord.athlete_id == athlete_id,
            DeliveryRecord.kind == DeliveryKind.WELCOME,
            DeliveryRecord.status == DeliveryStatus.SENT,
        )
    )
    return FirstResult(
        backfilled=True,
        email=athlete.email,
        units=athlete.units,
        runs=int(runs),
        total_m=int(total_m),
        longest_m=int(longest_m),
        next_run_m=next_run.get("high_m"),
        next_week_low_m=next_week.get("low_m"),
        next_week_high_m=next_week.get("high_m"),
        last_week=last_week,
        last_week_fired=fired,
        welcome_sent=bool(welcome_sent),
    )
