"""Read a Strava bulk export ("Download your data"): the runner's own files, no API data.

The export is a ZIP (or its unpacked folder) with `activities.csv` at its root. That file
repeats column names: the first `Distance` is in the runner's display unit (km for most),
the second in metres, and `Elapsed Time` appears twice too. We read the metre column when it
is there and fall back to the first one (kilometres) otherwise. `Activity Date` is UTC, in
the form "Oct 5, 2025, 6:12:34 AM"; the export has no time zone, so the caller supplies one.

Rows come back shaped like Strava's SummaryActivity JSON (without `start_date_local`), so
`mapping.from_strava_summary` turns them into activities as it does for API pages. Kept in its
own module so a file-import feature can reuse it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

ACTIVITIES_CSV = "activities.csv"
DATE_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%Y-%m-%d %H:%M:%S")


class ExportError(ValueError):
    """The export cannot be read; the message names the file, the line and the column."""


def read_activities(path: Path) -> list[dict[str, Any]]:
    """Every activity of an export folder, ZIP or bare activities.csv, oldest first."""
    name, text = _activities_text(path)
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise ExportError(f"{name}: the file is empty")
    columns = _Columns(name, [column.strip().lstrip("\ufeff") for column in header])
    activities = [
        columns.activity(row, line)
        for line, row in enumerate(rows, start=2)
        if any(cell.strip() for cell in row)
    ]
    return sorted(activities, key=lambda a: (a["start_date"], a["id"]))


def _activities_text(path: Path) -> tuple[str, str]:
    try:
        if path.is_dir():
            path = path / ACTIVITIES_CSV
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = _member(archive.namelist())
                if member is None:
                    raise ExportError(
                        f"{path}: no {ACTIVITIES_CSV} in this ZIP; is it Strava's "
                        "'Download your data' archive?"
                    )
                return f"{path}:{member}", archive.read(member).decode("utf-8-sig")
        return str(path), path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExportError(f"cannot read {path}: {reason}") from None


def _member(names: Iterable[str]) -> str | None:
    """activities.csv at the root, or one folder down when the ZIP was re-packed."""
    candidates = [n for n in names if n.rsplit("/", 1)[-1] == ACTIVITIES_CSV and n.count("/") <= 1]
    return min(candidates, key=lambda n: n.count("/"), default=None)


class _Columns:
    def __init__(self, name: str, header: Sequence[str]) -> None:
        self.name = name
        self.header = header
        self.positions: dict[str, list[int]] = {}
        for index, column in enumerate(header):
            self.positions.setdefault(column, []).append(index)
        missing = [c for c in ("Activity ID", "Activity Date", "Activity Type") if c not in self]
        if missing or "Distance" not in self:
            absent = ", ".join(repr(c) for c in [*missing, "Distance"] if c not in self)
            raise ExportError(f"{name}:1: no {absent} column; is this Strava's activities.csv?")

    def __contains__(self, column: str) -> bool:
        return column in self.positions

    def activity(self, row: Sequence[str], line: int) -> dict[str, Any]:
        def cell(column: str, occurrence: int = 0) -> str:
            index = self.positions[column][occurrence]
            return row[index].strip() if index < len(row) else ""

        def number(column: str, occurrence: int = 0) -> float:
            text = cell(column, occurrence).replace(",", "")
            try:
                return float(text) if text else 0.0
            except ValueError:
                raise ExportError(
                    f"{self.name}:{line}: column {column!r}: {text!r} is not a number"
                ) from None

        ident = cell("Activity ID")
        if not ident.isdigit():
            raise ExportError(f"{self.name}:{line}: column 'Activity ID': {ident!r} is not an id")
        # The second `Distance` is metres; an export with only one has it in kilometres.
        metres = (
            number("Distance", 1)
            if len(self.positions["Distance"]) > 1
            else number("Distance") * 1000
        )
        moving = "Moving Time" if "Moving Time" in self else "Elapsed Time"
        return {
            "id": int(ident),
            "start_date": _utc(cell("Activity Date"), f"{self.name}:{line}").isoformat(),
            "sport_type": cell("Activity Type").replace(" ", "") or "Workout",
            "distance": metres,
            "moving_time": round(number(moving)) if moving in self else 0,
            "total_elevation_gain": number("Elevation Gain") if "Elevation Gain" in self else 0.0,
        }


def _utc(text: str, where: str) -> dt.datetime:
    for form in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, form).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ExportError(
        f"{where}: column 'Activity Date': {text!r} is not a date like 'Oct 5, 2025, 6:12:34 AM'"
    )
