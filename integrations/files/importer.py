"""The import service: the runner's files, folders or export ZIPs in, stored activity rows out.

    outcome = import_paths(sessions, athlete_id, [Path("export.zip")], settings=settings)

is what `strideguard import`, the `import_files` actor (queued by the upload form and the
watched folder) and tests call. It never raises for one bad file: `outcome.failed` names each
file or export row left out and why, and the rest is stored. What it guarantees:

- Re-importing is a no-op: a row's id comes from the athlete and the recording's figures
  (`strideguard.activity_sources.file_activity_id`), so the same file (plain, gzip, alone or
  inside an export) finds its row and is reported as a duplicate. A stored row keeps its
  file's content hash, so a file imported before is not even parsed again (`stored_hashes`).
- The same run twice in one import (a FIT next to the export holding it), or a second
  recording of a run imported before, is stored once: the copy with the better data
  (`strideguard.integrations.files.dedupe`); a better recording replaces the stored one.
- The same run from a file and from Strava counts once: after storing, the athlete's rows of
  both sources are matched (start within 60 s, distance within 2 %), the better copy counts
  and the match is recorded (`strideguard.activity_sources.match_sources`).
- Only what the rules read is stored, never GPS; runs older than FILE_RETENTION_DAYS are not
  stored (the daily purge would drop them) and are reported as such.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.activity_sources import FILE, Match, file_activity_id, match_sources
from strideguard.db import transaction
from strideguard.integrations.files.dedupe import data_rank, deduplicate
from strideguard.integrations.files.export import ImportReport
from strideguard.integrations.files.paths import read_paths
from strideguard.integrations.files.record import FileActivity, Problem
from strideguard.integrations.files.unpack import Limits
from strideguard.models import Activity, Athlete, utcnow
from strideguard.same_run import SAME_START, same_activity
from strideguard.settings import Settings
from strideguard.times import aware, zone_or_utc
from strideguard.upsert import insert_ignoring_duplicates

GEAR_ID_LENGTH = 32  # Activity.gear_id
FILE_NAME_LENGTH = 255  # Activity.file_name

ALREADY_IMPORTED = "already imported"

# Called with (what is being done, done so far, total) as the import goes on.
Progress = Callable[[str, int, int], None]


class UnknownAthlete(LookupError):
    """The athlete id names nobody; nothing was read."""


@dataclass(frozen=True)
class Duplicate:
    """A file or export row not stored because its run is stored already, and which copy."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass
class ImportOutcome:
    """What one import did: file names stored, duplicates skipped, failures with reasons,
    and the runs now matched with a Strava copy."""

    imported: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    failed: list[Problem] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "duplicates": [{"name": d.name, "reason": d.reason} for d in self.duplicates],
            "failed": [{"name": p.name, "reason": p.reason} for p in self.failed],
            "matched_with_strava": len(self.matches),
        }


def import_paths(
    sessions: sessionmaker[Session],
    athlete_id: int,
    paths: Sequence[Path],
    *,
    settings: Settings,
    limits: Limits | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    now: dt.datetime | None = None,
) -> ImportOutcome:
    """Read `paths` (files, folders, export ZIPs or folders) and store the athlete's runs.

    Raises `UnknownAthlete` only; every problem with the input is in `failed`. `workers` > 1
    reads an export's files in that many processes. Safe to run twice at once for the same
    athlete: rows are inserted ignoring duplicates.
    """
    tell = progress or (lambda _what, _done, _total: None)
    with sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            raise UnknownAthlete(f"no athlete {athlete_id}")
        zone = zone_or_utc(athlete.timezone)
        known = stored_hashes(session, athlete_id)
    report = ImportReport()
    for done, path in enumerate(paths):
        tell("reading", done, len(paths))
        report.extend(
            read_paths([path], athlete_zone=zone, limits=limits, workers=workers, known=known)
        )
    tell("reading", len(paths), len(paths))
    outcome = ImportOutcome(
        failed=list(report.problems),
        duplicates=[Duplicate(name, ALREADY_IMPORTED) for name in report.known],
    )
    unique = deduplicate(report.activities, data_rank)
    outcome.duplicates += [
        Duplicate(d.dropped.name, f"the same run as {d.kept.name} in this import")
        for d in unique.duplicates
    ]
    cutoff = (now or utcnow()) - dt.timedelta(days=settings.file_retention_days)
    fresh = []
    for activity in unique.kept:
        if aware(activity.start_date) < cutoff:
            outcome.failed.append(
                Problem(
                    activity.name,
                    f"started {activity.start_date:%Y-%m-%d}, before the "
                    f"{settings.file_retention_days} days kept (FILE_RETENTION_DAYS): not stored",
                )
            )
        else:
            fresh.append(activity)
    with transaction(sessions) as session:
        rows = _store(session, athlete_id, fresh, outcome, tell)
        if rows:
            session.execute(insert_ignoring_duplicates(session, Activity), rows)
        outcome.matches = match_sources(session, athlete_id)
    return outcome


def stored_hashes(session: Session, athlete_id: int) -> frozenset[str]:
    """The content hashes of the athlete's stored files: those files are skipped unparsed."""
    return frozenset(
        session.scalars(
            select(Activity.content_hash).where(
                Activity.athlete_id == athlete_id,
                Activity.source == FILE,
                Activity.content_hash.is_not(None),
            )
        )
    )


def _store(
    session: Session,
    athlete_id: int,
    activities: Sequence[FileActivity],
    outcome: ImportOutcome,
    tell: Progress,
) -> list[dict[str, Any]]:
    """The rows to insert; stored copies of the same runs decide duplicates and replacements."""
    stored = {
        row.strava_id: row
        for row in session.scalars(
            select(Activity).where(Activity.athlete_id == athlete_id, Activity.source == FILE)
        )
    }
    by_start = sorted(stored.values(), key=lambda row: aware(row.start_date))
    starts = [aware(row.start_date) for row in by_start]
    rows: list[dict[str, Any]] = []
    replaced: list[int] = []
    for done, activity in enumerate(activities):
        tell("storing", done, len(activities))
        ident = file_activity_id(athlete_id, activity.fingerprint)
        earlier = stored.get(ident) or _stored_copy(by_start, starts, activity)
        if earlier is not None and earlier.strava_id == ident and not _better(activity, earlier):
            outcome.duplicates.append(Duplicate(activity.name, ALREADY_IMPORTED))
            continue
        if earlier is not None:
            if not _better(activity, earlier):
                outcome.duplicates.append(
                    Duplicate(
                        activity.name, f"the same run as {earlier.file_name}, imported before"
                    )
                )
                continue
            replaced.append(earlier.strava_id)
        rows.append(_row(athlete_id, ident, activity))
        outcome.imported.append(activity.name)
    tell("storing", len(activities), len(activities))
    if replaced:  # a better recording of a run imported before: it takes the run's place
        session.execute(delete(Activity).where(Activity.strava_id.in_(replaced)))
    return rows


def _better(activity: FileActivity, row: Activity) -> bool:
    """The new recording has better data than the stored copy of its run (e.g. a FIT file
    after a GPX of the same run): it takes the stored copy's place."""
    return int(activity.detail) > (row.detail or 0)


def _stored_copy(
    by_start: Sequence[Activity], starts: Sequence[dt.datetime], activity: FileActivity
) -> Activity | None:
    """The stored row of the same run, if any; only rows starting within `SAME_START` are
    compared (`starts` is `by_start`'s sorted starts), so an import onto a long history
    costs a lookup per file, not a pass over every stored run."""
    start = aware(activity.start_date)
    low = bisect.bisect_left(starts, start - SAME_START)
    high = bisect.bisect_right(starts, start + SAME_START)
    return next((row for row in by_start[low:high] if _same(row, activity)), None)


def _same(row: Activity, activity: FileActivity) -> bool:
    return same_activity(activity, _Timed(aware(row.start_date), row.distance_m))


@dataclass(frozen=True)
class _Timed:
    start_date: dt.datetime
    distance_m: int


def _row(athlete_id: int, ident: int, activity: FileActivity) -> dict[str, Any]:
    gear = activity.gear_name[:GEAR_ID_LENGTH] if activity.gear_name else None
    return {
        "strava_id": ident,
        "athlete_id": athlete_id,
        "source": FILE,
        "sport_type": activity.sport_type,
        "start_date": activity.start_date,
        "start_date_local": activity.start_date_local,
        "timezone": activity.timezone,
        "distance_m": activity.distance_m,
        "moving_time_s": activity.moving_time_s,
        "elevation_gain_dm": activity.elevation_gain_dm,
        "trainer": activity.trainer,
        "manual": activity.manual,
        "gear_id": gear,
        "detail": int(activity.detail),
        "file_name": activity.name[-FILE_NAME_LENGTH:],
        "content_hash": activity.content_hash,
        "synced_at": utcnow(),
    }
