"""Strava's bulk export, as the downloaded ZIP or its unpacked folder.

`activities.csv` lists every activity with Strava's own figures and the file it came from
(`activities/123.fit.gz`, `.gpx`, `.tcx.gz`). Each listed file is read; the CSV then supplies
what only Strava knows (the sport type as the runner last set it, the gear's name, the
activity id). A row whose file is absent, refused or never existed (a manual entry) is read
from the CSV's figures, and the reason is reported. With no usable CSV, every activity file
in the export is read on its own. Entries are read until their unpacked sizes reach
`Limits.max_export_bytes`; the rest are reported, their rows read from the CSV.

Reading the files is the slow part (a 1 s track is a few thousand points); `workers` > 1
spreads it over processes, each opening the export itself.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
from collections.abc import Sequence, Set
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from strideguard.integrations.files.archive import ExportTree, open_tree
from strideguard.integrations.files.export_csv import ExportRow, read_export_csv
from strideguard.integrations.files.localtime import wall_clock
from strideguard.integrations.files.reader import activity_format, read_activity_bytes
from strideguard.integrations.files.record import (
    AlreadyImported,
    Detail,
    FileActivity,
    FileRejected,
    Problem,
)
from strideguard.integrations.files.unpack import Limits

CSV_NAME = "activities.csv"


@dataclass
class ImportReport:
    """What a set of files, folders or exports yielded, and what was skipped and why."""

    activities: list[FileActivity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Files not parsed because their content was imported before (the reader's `known`).
    known: list[str] = field(default_factory=list)

    def extend(self, other: ImportReport) -> None:
        self.activities.extend(other.activities)
        self.problems.extend(other.problems)
        self.known.extend(other.known)


def read_export(
    path: Path,
    *,
    athlete_zone: ZoneInfo | None,
    limits: Limits | None = None,
    workers: int = 1,
    known: Set[str] = frozenset(),
) -> ImportReport:
    """Every activity of one export (ZIP or folder); `FileRejected` only if it cannot be
    opened at all. Problems with single entries or rows are in the report; entries whose
    content hash is in `known` are listed in `report.known`, unparsed, their rows unread."""
    limits = limits or Limits()
    with open_tree(path, limits) as (tree, refused):
        report = ImportReport(problems=list(refused))
        names = tree.names()
        rows, root = _rows(tree, names, path.name, report)
        if rows is None:
            wanted = [n for n in names if activity_format(n) is not None]
        else:
            wanted = [e for e in (_entry(root, row) for row in rows) if e in set(names)]
        budgeted, over = _within_budget(tree, wanted, limits)
        if workers > 1 and len(budgeted) > 1:
            zone = athlete_zone.key if athlete_zone else None
            reader = partial(_read_in_worker, path, zone, limits, frozenset(known))
            size = max(1, len(budgeted) // (workers * 4))
            chunks = [budgeted[i : i + size] for i in range(0, len(budgeted), size)]
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = [r for chunk in pool.map(reader, chunks) for r in chunk]
        else:
            results = [_read_entry(tree, name, athlete_zone, limits, known) for name in budgeted]
    found = dict(zip(budgeted, results, strict=True))
    for name in over:
        found[name] = Problem(name, "the export's unpacked-size limit is reached: not read")
    if rows is None:
        for name in wanted:
            _add(report, found[name], path.name)
    else:
        for row in rows:
            _merge_row(report, row, _entry(root, row), found, path.name, athlete_zone)
    return report


def _rows(
    tree: ExportTree, names: Sequence[str], label: str, report: ImportReport
) -> tuple[list[ExportRow] | None, PurePosixPath]:
    """activities.csv's rows (None when missing or unreadable) and the folder it sits in."""
    csv_name = min((n for n in names if PurePosixPath(n).name == CSV_NAME), key=len, default=None)
    if csv_name is None:
        report.problems.append(Problem(label, f"no {CSV_NAME}: reading its activity files alone"))
        return None, PurePosixPath()
    try:
        text = tree.read(csv_name).decode("utf-8-sig")
        rows, row_problems = read_export_csv(text, f"{label}:{csv_name}")
    except FileRejected as exc:
        report.problems.append(Problem(f"{label}:{csv_name}", exc.reason))
        return None, PurePosixPath()
    except UnicodeDecodeError as exc:
        report.problems.append(Problem(f"{label}:{csv_name}", f"not UTF-8 text ({exc})"))
        return None, PurePosixPath()
    report.problems.extend(row_problems)
    return rows, PurePosixPath(csv_name).parent


def _entry(root: PurePosixPath, row: ExportRow) -> str | None:
    return str(root / row.filename) if row.filename else None


def _within_budget(
    tree: ExportTree, wanted: Sequence[str], limits: Limits
) -> tuple[list[str], list[str]]:
    """The entries to read, in order, while their declared sizes fit the export's limit."""
    total = 0
    inside: list[str] = []
    for index, name in enumerate(wanted):
        with contextlib.suppress(FileRejected, OSError):  # reading it will report why
            total += tree.size(name)
        if total > limits.max_export_bytes:
            return inside, list(wanted[index:])
        inside.append(name)
    return inside, []


# What reading one entry gave: its activity, why it was refused, or that it was imported before.
EntryResult = FileActivity | Problem | AlreadyImported


def _read_entry(
    tree: ExportTree, name: str, athlete_zone: ZoneInfo | None, limits: Limits, known: Set[str]
) -> EntryResult:
    try:
        return read_activity_bytes(
            tree.read(name), name, athlete_zone=athlete_zone, limits=limits, known=known
        )
    except FileRejected as exc:
        return Problem(name, exc.reason)
    except AlreadyImported as exc:
        return exc


def _read_in_worker(
    path: Path, zone: str | None, limits: Limits, known: frozenset[str], names: list[str]
) -> list[EntryResult]:
    """A chunk of entries in a pool process, which opens the export once for the chunk
    (results cross processes as plain dataclasses)."""
    athlete_zone = ZoneInfo(zone) if zone else None
    with open_tree(path, limits) as (tree, _):
        return [_read_entry(tree, name, athlete_zone, limits, known) for name in names]


def _add(report: ImportReport, result: EntryResult, label: str) -> None:
    if isinstance(result, AlreadyImported):
        report.known.append(result.name)
    elif isinstance(result, Problem):
        report.problems.append(Problem(f"{label}:{result.name}", result.reason))
    else:
        report.activities.append(result)


def _merge_row(
    report: ImportReport,
    row: ExportRow,
    entry: str | None,
    found: dict[str, EntryResult],
    label: str,
    athlete_zone: ZoneInfo | None,
) -> None:
    """The row's file with the CSV's sport, gear and id; else the CSV's own figures."""
    if entry is not None:
        result = found.get(entry) or Problem(
            entry, "listed in activities.csv but not in the export"
        )
        if isinstance(result, AlreadyImported):
            report.known.append(result.name)
            return
        if isinstance(result, FileActivity):
            report.activities.append(
                dataclasses.replace(
                    result,
                    sport_type=row.sport_type,
                    gear_name=row.gear_name,
                    strava_id=row.strava_id,
                )
            )
            return
        report.problems.append(
            Problem(f"{label}:{entry}", f"{result.reason}; the CSV's figures are used instead")
        )
    try:
        report.activities.append(_from_row(row, entry, athlete_zone))
    except FileRejected as exc:
        report.problems.append(Problem(f"{label}:{CSV_NAME} line {row.line}", exc.reason))


def _from_row(row: ExportRow, entry: str | None, athlete_zone: ZoneInfo | None) -> FileActivity:
    """An activity from the CSV's figures alone; with no file at all it was typed in."""
    name = entry or f"{CSV_NAME} line {row.line}"
    clock = wall_clock(name, row.start_date, athlete_zone=athlete_zone)
    return FileActivity(
        source="strava-csv",
        name=name,
        sport_type=row.sport_type,
        start_date=row.start_date,
        start_date_local=clock.local,
        timezone=clock.timezone,
        distance_m=round(row.distance_m),
        moving_time_s=round(row.moving_time_s),
        elevation_gain_dm=round(row.elevation_gain_m * 10),
        trainer=False,  # the CSV has no indoor column
        manual=entry is None,
        device=None,
        gear_name=row.gear_name,
        detail=Detail.SUMMARY if entry else Detail.MANUAL,
        strava_id=row.strava_id,
    )
