"""Strava's bulk-export `activities.csv`, read by position where names repeat.

Strava's header names some columns twice: the first "Elapsed Time" and "Distance" are in the
runner's display units (whole seconds; km or mi, e.g. "18.96"), the later ones in SI units
("5601.0" s, "18962.8" m). The second occurrence is the one read, so the units never depend
on the runner's settings. "Activity Date" is UTC ("Oct 7, 2020, 2:43:11 PM").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from strideguard.integrations.files.record import FileRejected, Problem
from strideguard.integrations.files.sports import from_export

# (header name, occurrence): the columns read; "Moving Time" and "Elevation Gain" appear once,
# after the second "Elapsed Time", so they are SI units too.
ID = ("Activity ID", 1)
DATE = ("Activity Date", 1)
TYPE = ("Activity Type", 1)
GEAR = ("Activity Gear", 1)
FILENAME = ("Filename", 1)
ELAPSED_S = ("Elapsed Time", 2)
MOVING_S = ("Moving Time", 1)
DISTANCE_M = ("Distance", 2)
GAIN_M = ("Elevation Gain", 1)
REQUIRED = (ID, DATE, TYPE, FILENAME, ELAPSED_S, DISTANCE_M)
OPTIONAL = (GEAR, MOVING_S, GAIN_M)

_DATE_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One line of activities.csv, in SI units; `filename` is relative to the export root."""

    line: int
    strava_id: int
    start_date: dt.datetime
    sport_type: str
    gear_name: str | None
    filename: str | None
    distance_m: float
    moving_time_s: float
    elevation_gain_m: float


def _positions(header: Sequence[str], name: str) -> dict[tuple[str, int], int]:
    seen: dict[str, int] = {}
    positions: dict[tuple[str, int], int] = {}
    for index, column in enumerate(header):
        column = column.strip().lstrip("\ufeff")
        seen[column] = seen.get(column, 0) + 1
        positions[(column, seen[column])] = index
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        described = ", ".join(
            f"{'the second ' if n == 2 else ''}{column!r}" for column, n in missing
        )
        raise FileRejected(
            name,
            f"missing column(s) {described}: not Strava's activities.csv layout "
            "(the export's files are read on their own instead)",
        )
    return positions


def _date(text: str) -> dt.datetime:
    for layout in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), layout).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    raise ValueError(f"'Activity Date' {text!r} is not a date this reader knows")


def _float(text: str, column: str) -> float:
    try:
        return float(text) if text.strip() else 0.0
    except ValueError:
        raise ValueError(f"{column!r} {text!r} is not a number") from None


def _integer(text: str, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{column!r} {text!r} is not a whole number") from None


def read_export_csv(text: str, name: str) -> tuple[list[ExportRow], list[Problem]]:
    """The rows, and a `Problem` per unreadable row; `FileRejected` if the header is wrong."""
    lines: Iterator[list[str]] = csv.reader(io.StringIO(text))
    header = next(lines, None)
    if header is None:
        raise FileRejected(name, "empty file")
    at = _positions(header, name)
    rows: list[ExportRow] = []
    problems: list[Problem] = []
    for number, cells in enumerate(lines, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(column: tuple[str, int], cells: list[str] = cells) -> str:
            index = at.get(column)
            return cells[index] if index is not None and index < len(cells) else ""

        try:
            elapsed = _float(cell(ELAPSED_S), "Elapsed Time")
            moving = _float(cell(MOVING_S), "Moving Time") or elapsed
            rows.append(
                ExportRow(
                    line=number,
                    strava_id=_integer(cell(ID), "Activity ID"),
                    start_date=_date(cell(DATE)),
                    sport_type=from_export(cell(TYPE)) or "Workout",
                    gear_name=cell(GEAR).strip() or None,
                    filename=cell(FILENAME).strip() or None,
                    distance_m=_float(cell(DISTANCE_M), "Distance"),
                    moving_time_s=moving,
                    elevation_gain_m=_float(cell(GAIN_M), "Elevation Gain"),
                )
            )
        except ValueError as exc:
            problems.append(Problem(f"{name} line {number}", f"row skipped: {exc}"))
    return rows, problems
