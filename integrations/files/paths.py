"""What an import is given: activity files, folders of them, or Strava exports, in any mix.

Each path is read on its own; a problem with one file is reported and the rest goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from pathlib import Path
from zoneinfo import ZoneInfo

from strideguard.integrations.files.export import CSV_NAME, ImportReport, read_export
from strideguard.integrations.files.reader import read_activity_file
from strideguard.integrations.files.record import AlreadyImported, FileRejected, Problem
from strideguard.integrations.files.unpack import Limits


def read_paths(
    paths: Iterable[Path],
    *,
    athlete_zone: ZoneInfo | None,
    limits: Limits | None = None,
    workers: int = 1,
    known: Set[str] = frozenset(),
) -> ImportReport:
    """A ZIP or a folder holding activities.csv is an export (read by `workers` processes),
    and so is the folder of an activities.csv given by name; any other folder is searched for
    activity files; anything else is one activity file. A file whose content hash is in
    `known` is listed in `report.known`, not parsed."""
    report = ImportReport()
    for path in paths:
        export = path.parent if path.name == CSV_NAME and path.is_file() else path
        report.extend(_read_path(export, athlete_zone, limits, workers, known))
    return report


def _read_path(
    path: Path,
    athlete_zone: ZoneInfo | None,
    limits: Limits | None,
    workers: int,
    known: Set[str],
) -> ImportReport:
    report = ImportReport()
    try:
        if path.suffix.lower() == ".zip" or (path / CSV_NAME).is_file():
            report.extend(
                read_export(
                    path, athlete_zone=athlete_zone, limits=limits, workers=workers, known=known
                )
            )
        elif path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    report.extend(_read_path(file, athlete_zone, limits, workers, known))
        else:
            report.activities.append(
                read_activity_file(path, athlete_zone=athlete_zone, limits=limits, known=known)
            )
    except FileRejected as exc:
        report.problems.append(Problem(str(path), exc.reason))
    except AlreadyImported as exc:
        report.known.append(exc.name)
    return report
