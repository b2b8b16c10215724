"""Activity sync: plain functions the worker's actors call.

The database is a short-lived cache of Strava (retention defaults to 7 days), so evaluation does
not trust old rows: `refresh_window` re-reads the whole lookback window (one request for about
six weeks at 200 per page), upserts by Strava id, and deletes rows Strava no longer returns.
Every function is safe to run twice.

Shoes (gear) cost one request each and only the shoe-mileage rule reads them, so the first sync
after connect stores the activities alone: every new runner's window comes before anyone's
shoes. `read_unknown_gear` reads those shoes later, at background priority, and any later
window refresh still reads a shoe it has no count for. A shoe not read yet has no `gear` row
(never a placeholder at 0 km, which `_roll_gear` would then count on from): the shoe-mileage
rule leaves it out, so a week run only in unread shoes is not judged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activity_sources import STRAVA
from strideguard.integrations.strava.athlete_api import PER_PAGE, AthleteApi, StravaNotFound
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import BudgetExceeded, NotConnected, StravaUnavailable
from strideguard.integrations.strava.mapping import activity_fields
from strideguard.models import Activity, Athlete, Gear, StravaConnection, utcnow
from strideguard.times import aware
from strideguard.upsert import insert_or_update
from strideguard.worker.ports import Priority

log = logging.getLogger(__name__)

# Time-zone slack on the window start: a run at 23:00 local on the first day may be the next
# day in UTC, or the previous one.
WINDOW_SLACK = dt.timedelta(days=1)

_UPDATABLE = (
    "sport_type",
    "start_date",
    "start_date_local",
    "timezone",
    "distance_m",
    "moving_time_s",
    "elevation_gain_dm",
    "trainer",
    "manual",
    "gear_id",
)
_GEAR_UPDATABLE = ("name", "distance_m", "retired", "synced_at")


@dataclass
class SyncReport:
    athlete_id: int
    requests: int = 0
    fetched: int = 0
    upserted: int = 0
    deleted: int = 0
    gear_fetched: list[str] = field(default_factory=list)
    # Shoes used in the window that still have no current count after this sync.
    gear_unread: list[str] = field(default_factory=list)
    # The window's activities as fetched (Activity columns without athlete_id): evaluation
    # judges these rather than re-reading rows a concurrent retention purge may remove.
    activities: list[dict[str, Any]] = field(default_factory=list, repr=False)


def window_start(now: dt.datetime, lookback_weeks: int) -> dt.datetime:
    """`after` for the lookback refresh: the window plus a day of time-zone slack."""
    return now - dt.timedelta(weeks=lookback_weeks) - WINDOW_SLACK


def backfill(ctx: StravaContext, athlete_id: int) -> SyncReport:
    """First sync after connect; highest priority because the runner just clicked.

    Activities only: the shoes it leaves in `gear_unread` are for `read_unknown_gear`, so a
    burst of new runners spends the backfill budget on what every rule needs.
    """
    report = refresh_window(ctx, athlete_id, priority=Priority.BACKFILL, read_gear=False)
    with ctx.sessions.begin() as session:
        connection = _connection(session, athlete_id)
        connection.backfilled_at = ctx.clock()
        connection.sync_requested_at = None
    return report


def refresh_window(
    ctx: StravaContext,
    athlete_id: int,
    *,
    priority: Priority = Priority.EVALUATION,
    read_gear: bool = True,
) -> SyncReport:
    """Make our rows for the lookback window match Strava (inserts, updates and deletes).

    Shoes we have no count for are read too, unless `read_gear` is False (the backfill).
    """
    now = ctx.clock()
    after = window_start(now, ctx.settings.lookback_weeks)
    api = AthleteApi(ctx, athlete_id, priority)
    summaries = _fetch_window(api, after)
    with ctx.sessions.begin() as session:
        report = SyncReport(athlete_id, fetched=len(summaries))
        rows = [activity_fields(summary) for summary in summaries]
        report.activities = rows
        report.upserted = upsert_activities(session, athlete_id, rows)
        report.deleted = _delete_missing(session, athlete_id, after, {r["strava_id"] for r in rows})
        _adopt_timezone(session, athlete_id, rows)
    unknown = _unknown_gear(ctx.sessions, athlete_id, {row["gear_id"] for row in rows}, after)
    if read_gear:
        try:
            for gear_id in _read_gear(ctx, api, unknown, now):
                report.gear_fetched.append(gear_id)
        except (BudgetExceeded, StravaUnavailable) as error:
            # The window is stored; the shoes can wait for the next refresh rather than make
            # the whole window be fetched again.
            log.info("shoes not all read this time: %s", error, extra={"athlete_id": athlete_id})
    report.gear_unread = [gear_id for gear_id in unknown if gear_id not in report.gear_fetched]
    with ctx.sessions.begin() as session:
        _roll_gear(session, athlete_id, after, now)
    with ctx.sessions.begin() as session:
        connection = _connection(session, athlete_id)
        connection.last_synced_at = now
        connection.last_error = None
    report.requests = api.requests_sent
    log.info(
        "Strava window refreshed: %d activities, %d deleted, %d requests",
        report.fetched,
        report.deleted,
        report.requests,
        extra={"athlete_id": athlete_id},
    )
    return report


def read_unknown_gear(ctx: StravaContext, athlete_id: int) -> list[str]:
    """Read, at background priority, the shoes of our stored window that we have no count for.

    The ids come from our own rows, so this costs one request per shoe and none for the
    activities. Raises `BudgetExceeded` when the background share is spent; the shoes read
    before that are kept, so the retry starts where this one stopped. Returns the shoes read.
    """
    now = ctx.clock()
    after = window_start(now, ctx.settings.lookback_weeks)
    with ctx.sessions() as session:
        used = set(
            session.scalars(
                select(Activity.gear_id)
                .where(
                    Activity.athlete_id == athlete_id,
                    Activity.source == STRAVA,  # a file's gear is a name, not Strava's id
                    Activity.start_date > after,
                )
                .distinct()
            )
        )
    unknown = _unknown_gear(ctx.sessions, athlete_id, used, after)
    api = AthleteApi(ctx, athlete_id, Priority.BACKGROUND)
    read = list(_read_gear(ctx, api, unknown, now))
    log.info(
        "shoes read: %d of %d unknown, %d requests",
        len(read),
        len(unknown),
        api.requests_sent,
        extra={"athlete_id": athlete_id},
    )
    return read


def _read_gear(
    ctx: StravaContext, api: AthleteApi, gear_ids: Sequence[str], now: dt.datetime
) -> Iterator[str]:
    """Read and store each shoe, yielding its id once stored; a shoe Strava lost is skipped."""
    for gear_id in gear_ids:
        try:
            gear = api.gear(gear_id)
        except StravaNotFound:
            continue
        with ctx.sessions.begin() as session:
            store_gear(session, api.athlete_id, gear_id, gear, now)
        yield gear_id


def _fetch_window(api: AthleteApi, after: dt.datetime) -> list[dict[str, Any]]:
    """Every page first, so a deferral halfway through writes nothing."""
    summaries: list[dict[str, Any]] = []
    page = 1
    while True:
        batch = api.activities_page(after=int(after.timestamp()), before=None, page=page)
        summaries.extend(batch)
        if len(batch) < PER_PAGE:
            return summaries
        page += 1


def sync_one_activity(
    ctx: StravaContext,
    athlete_id: int,
    activity_id: int,
    *,
    priority: Priority = Priority.BACKGROUND,
) -> bool:
    """Fetch one activity (webhook create/update) and upsert it; False if Strava lost it."""
    api = AthleteApi(ctx, athlete_id, priority)
    try:
        detailed = api.activity(activity_id)
    except StravaNotFound:
        delete_activity(ctx.sessions, activity_id)
        return False
    with ctx.sessions.begin() as session:
        upsert_activities(session, athlete_id, [activity_fields(detailed)])
    return True


def delete_activity(sessions: sessionmaker[Session], activity_id: int) -> bool:
    """Remove one activity (deleted on Strava). True if a row was there."""
    with sessions.begin() as session:
        return delete_activities(session, [activity_id]) == 1


def delete_activities(session: Session, activity_ids: Sequence[int]) -> int:
    """Remove activities deleted on Strava, in the caller's transaction; the rows removed."""
    result = session.execute(delete(Activity).where(Activity.strava_id.in_(activity_ids)))
    return int(getattr(result, "rowcount", 0))


def purge_expired(sessions: sessionmaker[Session], retention_days: int, now: dt.datetime) -> int:
    """Drop Strava's activities that started before the retention window (its cache terms);
    the runner's own file rows have their own period (FILE_RETENTION_DAYS)."""
    cutoff = now - dt.timedelta(days=retention_days)
    with sessions.begin() as session:
        result = session.execute(
            delete(Activity).where(Activity.source == STRAVA, Activity.start_date < cutoff)
        )
        return int(getattr(result, "rowcount", 0))


def upsert_activities(session: Session, athlete_id: int, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert or update by Strava id with ON CONFLICT, so two syncs at once cannot collide."""
    if not rows:
        return 0
    synced_at = utcnow()
    values = [{**row, "athlete_id": athlete_id, "synced_at": synced_at} for row in rows]
    # One cached statement run over many parameter sets (no bound-parameter cap to hit).
    session.execute(
        insert_or_update(session, Activity, ["strava_id"], (*_UPDATABLE, "synced_at")), values
    )
    return len(values)


def _delete_missing(session: Session, athlete_id: int, after: dt.datetime, seen: set[int]) -> int:
    stored = session.scalars(
        select(Activity.strava_id).where(
            Activity.athlete_id == athlete_id,
            Activity.source == STRAVA,  # a file row is never "gone from Strava"
            Activity.start_date > after,
        )
    ).all()
    gone = [strava_id for strava_id in stored if strava_id not in seen]
    if gone:
        session.execute(delete(Activity).where(Activity.strava_id.in_(gone)))
    return len(gone)


def _adopt_timezone(session: Session, athlete_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """The runner's zone is the one their latest activity was recorded in, unless they chose."""
    zoned = [row for row in rows if row["timezone"]]
    if not zoned:
        return
    latest = max(zoned, key=lambda row: row["start_date"])
    athlete = session.get(Athlete, athlete_id)
    if (
        athlete is not None
        and not athlete.timezone_locked
        and athlete.timezone != latest["timezone"]
    ):
        athlete.timezone = latest["timezone"]


def _unknown_gear(
    sessions: sessionmaker[Session],
    athlete_id: int,
    gear_ids: Iterable[str | None],
    after: dt.datetime,
) -> list[str]:
    """Gear used in the window whose distance we cannot carry forward from our own rows.

    A shoe is read from Strava when first seen, or when its last count predates the window
    (the activities in between are no longer visible to us). Otherwise `_roll_gear` adds the
    runs since, so steady state costs no gear request at all.
    """
    used = sorted({gear_id for gear_id in gear_ids if gear_id})
    if not used:
        return []
    with sessions() as session:
        counted_until = {
            gear.strava_gear_id: aware(gear.synced_at)
            for gear in session.scalars(
                select(Gear).where(Gear.athlete_id == athlete_id, Gear.strava_gear_id.in_(used))
            )
        }
    return [g for g in used if g not in counted_until or counted_until[g] < after]


def _roll_gear(session: Session, athlete_id: int, after: dt.datetime, now: dt.datetime) -> None:
    """Add each shoe's runs since its last count, so `distance_m` stays current.

    Each activity is counted once, in the interval its start falls into. A late upload that
    started before the last count is missed, and an edit to a counted run is not taken back;
    both are small against a limit of hundreds of kilometres, and the count is re-read from
    Strava whenever the athlete's refreshes lapse for longer than the window.
    """
    for gear in session.scalars(select(Gear).where(Gear.athlete_id == athlete_id)):
        since = aware(gear.synced_at)
        if since < after or since >= now:
            continue
        added = session.scalar(
            select(func.coalesce(func.sum(Activity.distance_m), 0)).where(
                Activity.athlete_id == athlete_id,
                Activity.gear_id == gear.strava_gear_id,
                Activity.start_date > since,
                Activity.start_date <= now,
            )
        )
        gear.distance_m += int(added or 0)
        gear.synced_at = now


def store_gear(
    session: Session, athlete_id: int, gear_id: str, gear: Mapping[str, Any], now: dt.datetime
) -> None:
    """Insert or update one shoe in a single statement.

    `evaluate_week`'s refresh and the `read_gear` job can read the same new shoe at once; a
    look-then-insert let both insert and one fail on the (athlete, shoe) unique key.
    """
    session.execute(
        insert_or_update(session, Gear, ["athlete_id", "strava_gear_id"], _GEAR_UPDATABLE),
        {
            "athlete_id": athlete_id,
            "strava_gear_id": gear_id,
            "name": str(gear.get("name") or gear_id)[:120],
            "distance_m": round(float(gear.get("distance") or 0)),
            "retired": bool(gear.get("retired")),
            "synced_at": now,
        },
    )


def _connection(session: Session, athlete_id: int) -> StravaConnection:
    connection = session.scalar(
        select(StravaConnection).where(StravaConnection.athlete_id == athlete_id)
    )
    if connection is None:
        raise NotConnected(f"athlete {athlete_id} has no Strava connection")
    return connection
