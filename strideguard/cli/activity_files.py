"""The runner's own files (FIT, GPX, TCX, a Strava bulk export) as the rules engine's records.

One reader, `strideguard.integrations.files`, serves `rules evaluate --activities` and `rules
backtest --export`, so a file yields the same figures wherever it is read. The same run found
twice (a FIT file next to the export holding it) is counted once, as the import counts it, or
its week's distance would double.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from strideguard.integrations.files import (
    FileActivity,
    activity_format,
    data_rank,
    deduplicate,
    read_paths,
)
from strideguard.rules import ActivityRecord


@dataclass(frozen=True)
class FileRecords:
    """What the files yielded, oldest first, and one line per file or row left out."""

    records: list[ActivityRecord]
    warnings: list[str]


def is_activity_files(path: Path) -> bool:
    """A folder, an export ZIP, its activities.csv or an activity file (not a JSON array)."""
    return (
        path.is_dir()
        or path.suffix.lower() == ".zip"
        or path.name == "activities.csv"
        or activity_format(path.name) is not None
    )


def to_record(activity: FileActivity) -> ActivityRecord:
    """The engine's record; a file without a Strava id gets a stable one from its figures.

    The gear's name stands in for Strava's gear id: it is what tells one shoe from another.
    """
    ident = activity.strava_id or int(activity.fingerprint[:12], 16)
    return ActivityRecord(
        activity_id=ident,
        athlete_id=0,
        sport_type=activity.sport_type,
        start_date=activity.start_date,
        start_date_local=activity.start_date_local,
        timezone=activity.timezone,
        distance_m=activity.distance_m,
        moving_time_s=activity.moving_time_s,
        elevation_gain_dm=activity.elevation_gain_dm,
        trainer=activity.trainer,
        manual=activity.manual,
        gear_id=activity.gear_name,
    )


def read_file_records(paths: Iterable[Path], zone: ZoneInfo | None) -> FileRecords:
    """Every activity the paths hold; a file or row the reader skips becomes a warning."""
    report = read_paths(paths, athlete_zone=zone)
    unique = deduplicate(report.activities, data_rank)
    warnings = [str(problem) for problem in report.problems]
    warnings += [
        f"{d.dropped.name}: the same run as {d.kept.name}; counted once" for d in unique.duplicates
    ]
    records = sorted((to_record(a) for a in unique.kept), key=lambda r: r.start_date)
    return FileRecords(records, warnings)
