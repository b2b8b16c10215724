"""A runner with 20 weeks of running, one risky week that was emailed, and a check-in.

Weekly running: 30 km (three 10 km runs) every week, except 45 km three weeks ago (three
15 km runs), plus 8 km on this Monday. The runner's own override lowers the weekly-spike
threshold from 30 % to 20 %, so the page must show limits of 36 km where the average is 30 km.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from strideguard import rules
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.tokens import store_grant
from strideguard.models import Activity, Alert, Athlete, BackPainCheckin, DeliveryRecord
from strideguard.times import week_start_of, zone_or_utc

CLIENT_ID = 4321
CLIENT_SECRET = "runner-page-sim-secret"
EMAIL = "ana@example.org"
STRAVA_ID = 134815
SPIKE_WEEKS_AGO = 3
OVERRIDES = {"weekly_distance_spike": {"threshold": 20}}


def strava_simulator() -> Simulator:
    """Strava, as the project's simulator (start it with `with`), knowing the seeded runner."""
    athlete = {"id": STRAVA_ID, "firstname": "Ana", "measurement_preference": "meters"}
    seed = [{"athlete": athlete, "activities": [], "gear": []}]
    clock = SimClock(dt.datetime.now(dt.UTC), ticking=True)
    return Simulator(seed, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock)


def strava_env(sim: Simulator) -> dict[str, str]:
    return {
        "STRAVA_BASE_URL": sim.base_url,
        "STRAVA_CLIENT_ID": str(CLIENT_ID),
        "STRAVA_CLIENT_SECRET": CLIENT_SECRET,
    }


def weekly_km(weeks_ago: int) -> int:
    if weeks_ago == 0:
        return 8
    return 45 if weeks_ago == SPIKE_WEEKS_AGO else 30


def _activities(athlete_id: int, this_monday: dt.date) -> list[Activity]:
    made: list[Activity] = []
    for weeks_ago in range(20, -1, -1):
        monday = this_monday - dt.timedelta(weeks=weeks_ago)
        if weeks_ago == 0:
            days, km = [0], 8
        else:
            days, km = [1, 3, 5], weekly_km(weeks_ago) // 3
        for day in days:
            start = dt.datetime.combine(monday + dt.timedelta(days=day), dt.time(6, 30))
            made.append(
                Activity(
                    strava_id=10_000_000 + len(made),
                    athlete_id=athlete_id,
                    sport_type="Run",
                    start_date=start.replace(tzinfo=dt.UTC),
                    start_date_local=start,
                    timezone="Europe/Oslo",
                    distance_m=km * 1000,
                    moving_time_s=km * 330,
                    elevation_gain_dm=400,
                    trainer=False,
                    manual=False,
                    gear_id=None,
                )
            )
    return made


def seed_runner(
    sessions: sessionmaker[Session],
    now: dt.datetime,
    *,
    ctx: StravaContext | None = None,
    grant: dict[str, object] | None = None,
) -> int:
    """The runner's rows; with `ctx` and `grant`, a live Strava connection synced 12 min ago."""
    this_monday = week_start_of(now.astimezone(zone_or_utc("Europe/Oslo")).date())
    spike_monday = this_monday - dt.timedelta(weeks=SPIKE_WEEKS_AGO)
    with sessions.begin() as session:
        athlete = Athlete(
            strava_athlete_id=STRAVA_ID,
            firstname="Ana",
            email=EMAIL,
            units="km",
            timezone="Europe/Oslo",
            muted_rules=[],
            rule_overrides=OVERRIDES,
        )
        session.add(athlete)
        session.flush()
        activities = _activities(athlete.id, this_monday)
        session.add_all(activities)
        if ctx is not None and grant is not None:
            connection = store_grant(session, ctx, athlete.id, grant, "read,activity:read_all")
            connection.last_synced_at = now - dt.timedelta(minutes=12)
            connection.backfilled_at = now - dt.timedelta(days=1)
        findings = rules.evaluate_week(
            activities,
            spike_monday,
            rules.load_config(),
            OVERRIDES,
            history_start=this_monday - dt.timedelta(weeks=20),
        )
        fired = [f for f in findings if f.fired]
        assert "weekly_distance_spike" in [f.rule for f in fired]
        outbox = DeliveryRecord(
            athlete_id=athlete.id,
            week_start=spike_monday,
            message_id=f"<digest-{athlete.id}-{spike_monday}@testserver>",
            status="sent",
            sent_at=now - dt.timedelta(weeks=SPIKE_WEEKS_AGO - 1),
        )
        session.add(outbox)
        session.flush()
        session.add_all(
            Alert(
                athlete_id=athlete.id,
                week_start=spike_monday,
                rule_id=finding.rule,
                severity=finding.severity,
                finding=finding.to_dict(),
                outbox_id=outbox.id,
            )
            for finding in fired
        )
        session.add(BackPainCheckin(athlete_id=athlete.id, week_start=spike_monday, score=2))
        return athlete.id
