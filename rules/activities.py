"""The engine's input: activities as plain data, from our rows or from Strava's JSON.

The engine reads any object with the `Activity` row's attributes (a SQLAlchemy row, a result
tuple, or `ActivityRecord`), so the worker, the CLI and the tests all feed it the same way.
`rules/` imports nothing of ours, so the Strava conversion lives here too; it rounds exactly
as the sync does (metres and decimetres, half to even), so a file and a synced row agree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ActivityLike(Protocol):
    """What the rules read from one activity (the `Activity` row's attributes)."""

    @property
    def strava_id(self) -> int: ...
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

    strava_id: int
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


class ActivityInputError(ValueError):
    """A Strava activity cannot be read; the message names the activity and the field."""


# "(GMT-05:00) America/New_York" -> "America/New_York"
_ZONE_NAME = re.compile(r"^\s*(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\s*$")


def _zone_name(strava_timezone: object) -> str | None:
    if not isinstance(strava_timezone, str):
        return None
    match = _ZONE_NAME.match(strava_timezone)
    if not match:
        return None
    try:
        ZoneInfo(match.group("name"))
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return match.group("name")


def _parse_utc(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def from_strava_summary(
    summary: Mapping[str, Any], fallback_zone: ZoneInfo | None = None
) -> ActivityRecord:
    """An `ActivityRecord` from one SummaryActivity as GET /athlete/activities returns it.

    `start_date_local` is Strava's local wall clock with a misleading `Z`; it is kept as the
    wall clock. When it is missing, the UTC start is converted to the activity's own zone, or
    else to `fallback_zone`; with neither, the activity cannot be placed in a local week.
    """
    ident = summary.get("id", "?")

    def need(field: str) -> Any:
        value = summary.get(field)
        if value is None:
            raise ActivityInputError(f"activity {ident}: field {field!r} is missing")
        return value

    try:
        start_date = _parse_utc(str(need("start_date")))
        zone_name = _zone_name(summary.get("timezone"))
        local_text = summary.get("start_date_local")
        if local_text is not None:
            local = dt.datetime.fromisoformat(str(local_text).removesuffix("Z"))
            start_local = local.replace(tzinfo=None)
        else:
            zone = ZoneInfo(zone_name) if zone_name else fallback_zone
            if zone is None:
                raise ActivityInputError(
                    f"activity {ident}: no 'start_date_local' and no time zone to derive it "
                    "(give --athlete-tz)"
                )
            start_local = start_date.astimezone(zone).replace(tzinfo=None)
        athlete = summary.get("athlete")
        athlete_id = athlete.get("id", 0) if isinstance(athlete, Mapping) else 0
        return ActivityRecord(
            strava_id=int(need("id")),
            athlete_id=int(athlete_id or 0),
            sport_type=str(summary.get("sport_type") or need("type")),
            start_date=start_date,
            start_date_local=start_local,
            timezone=zone_name,
            distance_m=round(float(summary.get("distance") or 0)),
            moving_time_s=int(summary.get("moving_time") or 0),
            elevation_gain_dm=round(float(summary.get("total_elevation_gain") or 0) * 10),
            trainer=bool(summary.get("trainer")),
            manual=bool(summary.get("manual")),
            gear_id=summary.get("gear_id") or None,
        )
    except ActivityInputError:
        raise
    except (TypeError, ValueError) as exc:
        raise ActivityInputError(f"activity {ident}: {exc}") from None
