"""Outbox rows ready to send, as the evaluation writes them (for tests about delivery only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import transaction
from strideguard.models import Alert, DeliveryRecord
from strideguard.worker.evaluation import digest_message_id
from tests.worker.conftest import add_athlete

WEEK = dt.date(2025, 10, 13)
PUBLIC_BASE_URL = "https://strideguard.example.org"


def spike_finding(week_start: dt.date = WEEK, week_m: int = 52000) -> dict[str, Any]:
    """A weekly-distance-spike finding in the engine's JSON shape."""
    baseline_m = 38000
    pct = round((week_m - baseline_m) / baseline_m * 100, 1)
    return {
        "rule": "weekly_distance_spike",
        "title": "Weekly distance spike",
        "severity": "warning",
        "week_start": week_start.isoformat(),
        "status": "fired",
        "value": pct,
        "threshold": 30,
        "band": None,
        "activity_id": None,
        "date": None,
        "figures": {"week_m": week_m, "baseline_m": baseline_m, "pct": pct, "prior_weeks": 4},
        "advice": {"why": None, "do": None},
        "exercise_focus": ["trunk", "hips"],
    }


def add_digest(
    sessions: sessionmaker[Session],
    athlete_id: int,
    week_start: dt.date = WEEK,
    *,
    late_from: dt.date | None = None,
) -> int:
    """A pending outbox row with its alert; `late_from` adds a late alert from an earlier week."""
    with transaction(sessions) as session:
        outbox = DeliveryRecord(
            athlete_id=athlete_id,
            week_start=week_start,
            message_id=digest_message_id(athlete_id, week_start, PUBLIC_BASE_URL),
            status="pending",
            attempts=0,
        )
        session.add(outbox)
        session.flush()
        session.add(
            Alert(
                athlete_id=athlete_id,
                week_start=week_start,
                rule_id="weekly_distance_spike",
                severity="warning",
                finding=spike_finding(week_start),
                outbox_id=outbox.id,
            )
        )
        if late_from is not None:
            session.add(
                Alert(
                    athlete_id=athlete_id,
                    week_start=late_from,
                    rule_id="weekly_distance_spike",
                    severity="warning",
                    finding=spike_finding(late_from, week_m=61000),
                    late=True,
                )
            )
        return outbox.id


def athletes_with_digests(sessions: sessionmaker[Session], count: int) -> list[int]:
    """`count` runners, each with one digest waiting; their outbox ids."""
    return [
        add_digest(sessions, add_athlete(sessions, strava_id=7000 + i, email=f"r{i}@example.com"))
        for i in range(count)
    ]


def outbox_rows(sessions: sessionmaker[Session]) -> dict[int, DeliveryRecord]:
    with sessions() as session:
        return {row.id: row for row in session.scalars(select(DeliveryRecord))}


def alert_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(Alert.id)).all())
