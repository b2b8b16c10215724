"""Training histories as Strava writes them, and a runner connected to the simulator.

Shared by the worker's end-to-end tests; activities follow Strava's SummaryActivity shape
(start_date_local with the misleading trailing Z) so the real mapping code runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.tokens import store_grant
from strideguard.models import Athlete
from tests.worker.conftest import SmtpServer

OSLO_OFFSET = dt.timedelta(hours=2)  # CEST, September and October
CLIENT_ID = 1234
CLIENT_SECRET = "sim-secret"


def activity(
    activity_id: int,
    local_start: dt.datetime,
    *,
    distance_m: float,
    sport: str = "Run",
    moving_time_s: int = 3000,
    gain_m: float = 20.0,
) -> dict[str, Any]:
    start = local_start - OSLO_OFFSET
    return {
        "id": activity_id,
        "resource_state": 2,
        "name": "Morning session",
        "distance": distance_m,
        "moving_time": moving_time_s,
        "elapsed_time": moving_time_s + 60,
        "total_elevation_gain": gain_m,
        "type": sport,
        "sport_type": sport,
        "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_date_local": local_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": "(GMT+01:00) Europe/Oslo",
        "utc_offset": OSLO_OFFSET.total_seconds(),
        "trainer": False,
        "manual": False,
        "private": False,
        "gear_id": None,
    }


def training_week(first_id: int, monday: dt.date, runs_km: Iterable[float]) -> list[dict[str, Any]]:
    """Runs on Tuesday, Thursday and Saturday mornings, strength on Monday and Wednesday:
    a week that trips no rule unless the distances do."""
    at = dt.datetime.combine(monday, dt.time(7, 0))
    sessions = [
        activity(first_id, at, distance_m=0, sport="WeightTraining", moving_time_s=1800, gain_m=0),
        activity(
            first_id + 1,
            at + dt.timedelta(days=2),
            distance_m=0,
            sport="WeightTraining",
            moving_time_s=1800,
            gain_m=0,
        ),
    ]
    for index, (day, km) in enumerate(zip((1, 3, 5), runs_km, strict=True)):
        sessions.append(
            activity(first_id + 2 + index, at + dt.timedelta(days=day), distance_m=km * 1000)
        )
    return sessions


def history(
    first_id: int, weeks: dict[dt.date, tuple[float, float, float]]
) -> list[dict[str, Any]]:
    return [
        item
        for index, (monday, runs) in enumerate(sorted(weeks.items()))
        for item in training_week(first_id + 10 * index, monday, runs)
    ]


def sim_athlete(strava_id: int, firstname: str, activities: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "athlete": {"id": strava_id, "firstname": firstname, "measurement_preference": "meters"},
        "activities": activities,
        "gear": [],
    }


def connect(
    sessions: sessionmaker[Session],
    strava: StravaContext,
    sim: Simulator,
    strava_id: int,
    *,
    email: str,
    connected_at: dt.datetime,
    timezone: str = "Europe/Oslo",
) -> int:
    """A runner connected to the simulator without the browser dance; their athletes.id."""
    grant = sim.issue_tokens(strava_id, ["read", "activity:read_all"])
    with sessions.begin() as session:
        athlete = Athlete(
            strava_athlete_id=strava_id,
            firstname="Runner",
            email=email,
            timezone=timezone,
            created_at=connected_at,
        )
        session.add(athlete)
        session.flush()
        connection = store_grant(session, strava, athlete.id, grant, "read,activity:read_all")
        connection.created_at = connected_at
        connection.backfilled_at = connected_at
        return athlete.id


def simulated_services(sim: Simulator, smtp: SmtpServer) -> dict[str, str]:
    """Settings that point Strava at the simulator and mail at the test SMTP server."""
    return {
        "SMTP_URL": smtp.url,
        "STRAVA_BASE_URL": sim.base_url,
        "STRAVA_CLIENT_ID": str(CLIENT_ID),
        "STRAVA_CLIENT_SECRET": CLIENT_SECRET,
    }
