"""Activities from two sources, Strava and the runner's own files, counted once.

Both land in the `activities` table with `source` "strava" or "file". The same run from both
(a watch file and the Strava upload of it) is one run (`strideguard.same_run`). Of a matched
pair the
copy with the better data is counted and the other gets `matched_id` pointing at it; readers
count only rows where `counted()` holds. When the counted copy is deleted (a Strava row past
RETENTION_DAYS) the database clears `matched_id`, and the file's copy counts again, so a
year of file history never loses a run to Strava's seven-day cache.

The core owns this (not a plug-in) because the pipeline, the digest and the runner page all
need the same answer, and a plug-in may not be imported by them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.orm import Session

from strideguard.models import Activity
from strideguard.same_run import same_activity
from strideguard.times import aware

STRAVA = "strava"
FILE = "file"
# A Strava activity's figures are Strava's totals from the recording: ranked as a timed
# track (strideguard.integrations.files.Detail.TRACK); a hand-typed one as MANUAL.
STRAVA_DETAIL = 2
MANUAL_DETAIL = 0


def file_activity_id(athlete_id: int, fingerprint: str) -> int:
    """The row id of a file activity: negative (Strava's are positive), the same for the same
    recording of the same athlete, so a re-import finds its row instead of adding one."""
    digest = hashlib.sha256(f"{athlete_id}:{fingerprint}".encode()).hexdigest()
    return -int(digest[:15], 16)  # 60 bits: within a BIGINT, never zero


def counted() -> ColumnElement[bool]:
    """The rows that count: every run once, the better copy of a cross-source match."""
    return Activity.matched_id.is_(None)


def _rank(row: Activity) -> tuple[int, bool, bool]:
    """Higher is better: how the figures were measured, then a named shoe, then Strava's
    (its gear id is what the shoe count uses) over a file of equal detail."""
    if row.source == FILE:
        detail = row.detail if row.detail is not None else STRAVA_DETAIL
    else:
        detail = MANUAL_DETAIL if row.manual else STRAVA_DETAIL
    return (detail, row.gear_id is not None, row.source == STRAVA)


@dataclass(frozen=True)
class Match:
    """One run found in both sources: `kept` counts, `dropped` points at it."""

    kept: int
    dropped: int


def match_sources(session: Session, athlete_id: int) -> list[Match]:
    """Pair the athlete's Strava rows with their file rows and mark the worse copy of each.

    Idempotent: rows already paired are left alone, so re-running after every import and
    every refresh only pairs what is new. Runs in the caller's transaction.
    """
    rows = session.scalars(
        select(Activity)
        .where(Activity.athlete_id == athlete_id, counted())
        .order_by(Activity.start_date)
    ).all()
    strava = [row for row in rows if row.source == STRAVA]
    files = [row for row in rows if row.source == FILE]
    if not strava or not files:
        return []
    matches: list[Match] = []
    paired: set[int] = set()
    for row in strava:
        for other in files:
            if other.strava_id in paired or not same_activity(_aware(row), _aware(other)):
                continue
            kept, dropped = (row, other) if _rank(row) >= _rank(other) else (other, row)
            matches.append(Match(kept.strava_id, dropped.strava_id))
            paired.add(other.strava_id)
            break
    for match in matches:
        session.execute(
            update(Activity)
            .where(Activity.strava_id == match.dropped)
            .values(matched_id=match.kept)
            .execution_options(synchronize_session=False)
        )
    return matches


@dataclass(frozen=True)
class _Start:
    start_date: dt.datetime
    distance_m: int


def _aware(row: Activity) -> _Start:
    """SQLite hands back naive UTC datetimes; compare aware ones."""
    return _Start(aware(row.start_date), row.distance_m)


def purge_files(session: Session, retention_days: int, now: dt.datetime) -> int:
    """Drop file rows that started before FILE_RETENTION_DAYS; the rows removed."""
    cutoff = now - dt.timedelta(days=retention_days)
    result = session.execute(
        delete(Activity).where(Activity.source == FILE, Activity.start_date < cutoff)
    )
    return int(getattr(result, "rowcount", 0))
