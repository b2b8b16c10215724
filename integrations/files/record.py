"""What one activity file yields: only the figures the rules read, never a GPS point.

The fields mirror the `Activity` row (see `strideguard.rules.activities.ActivityRecord`), so the
wiring turns a `FileActivity` into a row without arithmetic. `detail` says how good the figures
are, which is what the duplicate matcher uses to prefer one source over another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from enum import IntEnum


class Detail(IntEnum):
    """How the figures were obtained, worst to best; the matcher keeps the higher one."""

    MANUAL = 0  # typed in by hand (an export row with no file): no device measured anything
    SUMMARY = 1  # totals only: the export CSV's figures, TCX laps without a track
    TRACK = 2  # timed points (GPX, TCX): distance and moving time recomputed from the track
    DEVICE = 3  # a FIT file: the device's own session totals plus its record stream


class FileRejected(ValueError):
    """A file (or an export entry) cannot be read; `name` says which and `reason` why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class AlreadyImported(Exception):
    """A file whose content is on a stored row already (`content_hash` in the reader's
    `known`): not parsed again, reported as a duplicate."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def content_hash(content: bytes) -> str:
    """SHA-256 of a file's content as parsed (gzip removed, so `run.fit` and `run.fit.gz`
    agree): far cheaper than parsing, so a re-import can skip what it stored before."""
    return hashlib.sha256(content).hexdigest()


@dataclass(frozen=True, slots=True)
class Problem:
    """One file or export row that was skipped (or read from a fallback), and why."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


@dataclass(frozen=True, slots=True)
class FileActivity:
    """One activity as the rules need it; `start_date` is UTC, `start_date_local` naive."""

    source: str  # "fit" | "gpx" | "tcx" | "strava-csv"
    name: str  # the file's name (inside an export: its path there), for reports
    sport_type: str  # Strava's sport type names: Run, TrailRun, VirtualRun, Walk, ...
    start_date: dt.datetime
    start_date_local: dt.datetime
    timezone: str | None  # IANA zone of the wall clock, when known
    distance_m: int
    moving_time_s: int
    elevation_gain_dm: int
    trainer: bool  # indoor: treadmill, trainer or virtual
    manual: bool
    device: str | None
    gear_name: str | None
    detail: Detail
    strava_id: int | None = None  # the export's "Activity ID", when the file came from one
    content_hash: str | None = None  # of the file read (`content_hash`); None for a CSV row

    @property
    def fingerprint(self) -> str:
        """The same for the same recording read again (plain or gzip, alone or in an export).

        Built from the figures, not the bytes, so a row the CSV alone describes has one too.
        A different recording of the same run differs: that is `dedupe.same_activity`'s job.
        """
        key = (
            f"{self.start_date.astimezone(dt.UTC):%Y-%m-%dT%H:%M:%S}|{self.sport_type}|"
            f"{self.distance_m}|{self.moving_time_s}"
        )
        return hashlib.sha256(key.encode()).hexdigest()[:32]
