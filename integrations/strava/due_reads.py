"""What the schedule says is due, as Strava reads to hold back from backfills and background work.

Each scheduler tick counts the evaluations that are due or become due in the current 15-minute
window and UTC day (one read each for the window refresh, which is one page, plus one for each
of the runner's shoes we hold no count for, which the evaluation reads), and the per-run
fetches that the last day's webhook rate predicts for the rest of the day, and hands that to
the shared budget (`RateBudget.hold`), for this window and, counted ahead, for the next one.
The next tick replaces both with a fresh count (evaluations done meanwhile are no longer
pending). `reservation_for` is the pure part.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from strideguard.activity_sources import STRAVA
from strideguard.integrations.strava.budget import (
    DAY_S,
    WINDOW_S,
    Reservation,
    next_window_start,
)
from strideguard.models import (
    Activity,
    Athlete,
    Evaluation,
    Gear,
    StravaConnection,
    WebhookEvent,
)
from strideguard.times import WEEK, aware, due_at, week_start_of, zone_or_utc

WINDOWS_PER_DAY = DAY_S // WINDOW_S


def reservation_for(
    now: dt.datetime, due: Iterable[dt.datetime | tuple[dt.datetime, int]], runs_last_day: int
) -> Reservation:
    """Reads to hold back at `now`: each evaluation's reads (one, or the count given with its
    due time) if it is due before the window (or the UTC day) ends, however overdue, and the
    per-run fetches at the last day's rate for the rest of the day (rounded up, so a single
    expected run is held)."""
    stamp = now.timestamp()
    window_end = (int(stamp) // WINDOW_S + 1) * WINDOW_S
    day_end = (int(stamp) // DAY_S + 1) * DAY_S
    weighted = [item if isinstance(item, tuple) else (item, 1) for item in due]
    times = [(moment.timestamp(), reads) for moment, reads in weighted]
    day_left = (day_end - stamp) / DAY_S
    return Reservation(
        evaluations_window=sum(reads for t, reads in times if t < window_end),
        evaluations_day=sum(reads for t, reads in times if t < day_end),
        runs_window=math.ceil(runs_last_day / WINDOWS_PER_DAY),
        runs_day=math.ceil(runs_last_day * day_left),
    )


def reservations_ahead(
    now: dt.datetime, due: Sequence[dt.datetime | tuple[dt.datetime, int]], runs_last_day: int
) -> list[tuple[dt.datetime, Reservation]]:
    """What to hold for `now`'s window and day, and for the next window (and day, when it
    starts one): work due then is counted before it starts, so jobs that wake on the
    boundary, before the next tick, cannot take the reads held for what falls due."""
    upcoming = next_window_start(now)
    return [(moment, reservation_for(moment, due, runs_last_day)) for moment in (now, upcoming)]


def due_reservations(
    session: Session, now: dt.datetime, grace: dt.timedelta, *, per_run_fetches: bool
) -> list[tuple[dt.datetime, Reservation]]:
    """`reservations_ahead` from the database: pending evaluations, the weeks of active
    runners that close (plus the grace) later, and the last day's rate of new-run webhooks."""
    shoes = unknown_shoes(session)
    due: list[tuple[dt.datetime, int]] = []
    pending = session.execute(
        select(Evaluation.athlete_id, Evaluation.due_at).where(Evaluation.status == "pending")
    )
    for athlete_id, due_at_ in pending:
        moment = aware(due_at_)
        if moment is not None:
            due.append((moment, 1 + shoes.get(athlete_id, 0)))
    runners = session.execute(
        select(Athlete.id, Athlete.timezone)
        .join(StravaConnection, StravaConnection.athlete_id == Athlete.id)
        .where(StravaConnection.status == "active", Athlete.email_status == "ok")
    )
    for athlete_id, name in runners:
        zone = zone_or_utc(name)
        this_week = week_start_of(now.astimezone(zone).date())
        # The week just closed may still be in its grace; the current one closes later.
        for week in (this_week - WEEK, this_week):
            moment = due_at(week, zone, grace)
            if moment > now:
                due.append((moment, 1 + shoes.get(athlete_id, 0)))
    runs = 0
    if per_run_fetches:
        runs = (
            session.scalar(
                select(func.count())
                .select_from(WebhookEvent)
                .where(
                    WebhookEvent.object_type == "activity",
                    WebhookEvent.aspect_type == "create",
                    WebhookEvent.received_at > now - dt.timedelta(days=1),
                )
            )
            or 0
        )
    return reservations_ahead(now, due, runs)


def unknown_shoes(session: Session) -> dict[int, int]:
    """Per runner, the shoes on their stored runs that have no count yet (no `gear` row)."""
    known = select(Gear.id).where(
        Gear.athlete_id == Activity.athlete_id, Gear.strava_gear_id == Activity.gear_id
    )
    rows = session.execute(
        select(Activity.athlete_id, func.count(func.distinct(Activity.gear_id)))
        # Strava's rows only: a file names its shoe, and Strava has nothing to read for it.
        .where(Activity.source == STRAVA, Activity.gear_id.is_not(None), ~known.exists())
        .group_by(Activity.athlete_id)
    )
    return {athlete_id: int(count) for athlete_id, count in rows}
