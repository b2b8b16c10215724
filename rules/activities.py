"""The engine's input: activities as plain data.

The engine reads any object with the `Activity` row's attributes (a SQLAlchemy row, a result
tuple, or `ActivityRecord`), so the worker, the CLI and the tests all feed it the same way.
Strava's JSON becomes an `ActivityRecord` in one place, `integrations/strava/mapping.py`,
so a file and a synced row agree by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class ActivityLike(Protocol):
    """What the rules read from one activity (the `Activity` row's attributes)."""

    @property
    def activity_id(self) -> int: ...
    @property
    def sport_type(self) -> str: ...
    @property
    def start_date_local(self) -> dt.datetime: ...
    @property
    def distance_m(self) -> int: ...
    @property
    def moving_time_s(self) -> int: ...
    @property
    def elevation_gain_dm(self) -> int: ...
    @property
    def trainer(self) -> bool: ...
    @property
    def manual(self) -> bool: ...
    @property
    def gear_id(self) -> str | None: ...


class GearLike(Protocol):
    """A shoe as Strava reports it now: its total distance in metres."""

    @property
    def distance_m(self) -> int: ...
    @property
    def name(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ActivityRecord:
    """One activity as plain data; the fields match the `Activity` row."""

    activity_id: int  # the source's id for it (Strava's activity id; a file's stable one)
    athlete_id: int
    sport_type: str
    start_date: dt.datetime
    start_date_local: dt.datetime
    timezone: str | None
    distance_m: int
    moving_time_s: int
    elevation_gain_dm: int
    trainer: bool
    manual: bool
    gear_id: str | None


@dataclass(frozen=True, slots=True)
class GearRecord:
    distance_m: int
    name: str | None = None
