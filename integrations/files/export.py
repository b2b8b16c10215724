"""Strava's bulk export, as the downloaded ZIP or its unpacked folder.

`activities.csv` lists every activity with Strava's own figures and the file it came from
(`activities/123.fit.gz`, `.gpx`, `.tcx.gz`). Each listed file is read; the CSV then supplies
what only Strava knows (the sport type as the runner last set it, the gear's name, the
activity id). A row whose file is absent, refused or never existed (a manual entry) is read
from the CSV's figures, and the reason is reported. With no usable CSV, every activity file
in the export is read on its own.

A ZIP is never unpacked: entries are streamed one at a time through the size and ratio
limits (`unpack.Limits`), so nothing is written and no entry name can reach the disk. Entry
names with `..`, a drive or a leading `/` (a zip slip) are refused all the same, as is an
export with more entries or more unpacked bytes than the limits allow.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol
from zoneinfo import ZoneInfo

from integrations.files.export_csv import ExportRow, read_export_csv
from integrations.files.localtime import wall_clock
from integrations.files.reader import activity_format, read_activity_bytes
from integrations.files.record import Detail, FileActivity, FileRejected, Problem
from integrations.files.unpack import Limits, read_capped, read_file_bytes

CSV_NAME = "activities.csv"


@dataclass
class ImportReport:
    """What a set of files, folders or exports yielded, and what was skipped and why."""

    activities: list[FileActivity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def extend(self, other: ImportReport) -> None:
        self.activities.extend(other.activities)
        self.problems.extend(other.problems)


class _Tree(Protocol):
    """The export's entries by their names relative to the export root."""

    def names(self) -> list[str]: ...
    def read(self, name: str) -> bytes: ...


def unsafe_entry(name: str) -> bool:
    """True for an entry name that would land outside the folder it is unpacked into."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in (path.parts[0] if path.parts else "")


class _ZipTree:
    def __init__(self, archive: zipfile.ZipFile, label: str, limits: Limits) -> None:
        self.archive, self.label, self.limits = archive, label, limits
        self.unpacked = 0
        self.entries: dict[str, zipfile.ZipInfo] = {}
        self.refused: list[Problem] = []
        infos = archive.infolist()
        if len(infos) > limits.max_entries:
            raise FileRejected(
                label, f"{len(infos)} entries, more than the {limits.max_entries} limit"
            )
        for info in infos:
            if info.is_dir():
                continue
            if unsafe_entry(info.filename):
                self.refused.append(
                    Problem(
                        f"{label}:{info.filename}",
                        "entry path leaves the export (zip slip): skipped",
                    )
                )
                continue
            self.entries[info.filename] = info

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str) -> bytes:
        info = self.entries[name]
        label = f"{self.label}:{name}"
        if self.unpacked + info.file_size > self.limits.max_export_bytes:
            raise FileRejected(label, "the export's unpacked-size limit is reached: not read")
        try:
            with self.archive.open(info) as stream:
                content = read_capped(
                    stream, label, self.limits, compressed_size=info.compress_size
                )
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise FileRejected(label, f"damaged ZIP entry ({exc})") from None
        self.unpacked += len(content)
        return content


class _FolderTree:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits = root.resolve(), limits

    def names(self) -> list[str]:
        return [
            p.relative_to(self.root).as_posix() for p in sorted(self.root.rglob("*")) if p.is_file()
        ]

    def read(self, name: str) -> bytes:
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise FileRejected(name, "links outside the export folder: not read")
        return read_file_bytes(path, self.limits, name=name)


@contextmanager
def _open_tree(path: Path, limits: Limits) -> Iterator[tuple[_Tree, list[Problem]]]:
    if path.is_dir():
        yield _FolderTree(path, limits), []
        return
    try:
        with zipfile.ZipFile(path) as archive:
            tree = _ZipTree(archive, path.name, limits)
            yield tree, tree.refused
    except zipfile.BadZipFile as exc:
        raise FileRejected(path.name, f"not a readable ZIP file ({exc})") from None


def read_export(
    path: Path, *, athlete_zone: ZoneInfo | None, limits: Limits | None = None
) -> ImportReport:
    """Every activity of one export (ZIP or folder); `FileRejected` only if it cannot be
    opened at all. Problems with single entries or rows are in the report."""
    limits = limits or Limits()
    with _open_tree(path, limits) as (tree, refused):
        report = ImportReport(problems=list(refused))
        names = tree.names()
        csv_name = min(
            (n for n in names if PurePosixPath(n).name == CSV_NAME), key=len, default=None
        )
        rows: list[ExportRow] | None = None
        if csv_name is None:
            report.problems.append(
                Problem(path.name, f"no {CSV_NAME}: reading its activity files alone")
            )
        else:
            try:
                text = tree.read(csv_name).decode("utf-8-sig")
                rows, row_problems = read_export_csv(text, f"{path.name}:{csv_name}")
                report.problems.extend(row_problems)
            except (FileRejected, UnicodeDecodeError) as exc:
                report.problems.append(Problem(f"{path.name}:{csv_name}", _reason(exc)))
        if rows is None:
            _read_loose(tree, names, path.name, athlete_zone, limits, report)
        else:
            root = PurePosixPath(csv_name or "").parent
            for row in rows:
                _read_row(tree, set(names), root, row, path.name, athlete_zone, limits, report)
    return report


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, FileRejected) else f"not UTF-8 text ({exc})"


def _read_loose(
    tree: _Tree,
    names: list[str],
    label: str,
    athlete_zone: ZoneInfo | None,
    limits: Limits,
    report: ImportReport,
) -> None:
    for name in names:
        if activity_format(name) is None:
            continue
        try:
            report.activities.append(
                read_activity_bytes(tree.read(name), name, athlete_zone=athlete_zone, limits=limits)
            )
        except FileRejected as exc:
            report.problems.append(Problem(f"{label}:{name}", exc.reason))


def _read_row(
    tree: _Tree,
    names: set[str],
    root: PurePosixPath,
    row: ExportRow,
    label: str,
    athlete_zone: ZoneInfo | None,
    limits: Limits,
    report: ImportReport,
) -> None:
    entry = str(root / row.filename) if row.filename and str(root) != "." else row.filename
    if entry is not None:
        try:
            if entry not in names:
                raise FileRejected(entry, "listed in activities.csv but not in the export")
            found = read_activity_bytes(
                tree.read(entry), entry, athlete_zone=athlete_zone, limits=limits
            )
            report.activities.append(
                dataclasses.replace(
                    found,
                    sport_type=row.sport_type,
                    gear_name=row.gear_name,
                    strava_id=row.strava_id,
                )
            )
            return
        except FileRejected as exc:
            report.problems.append(
                Problem(f"{label}:{entry}", f"{exc.reason}; the CSV's figures are used instead")
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
