"""Strava JSON to our rows: keep only what the rules read, exactly as they need it.

Strava writes `start_date_local` as local wall-clock time with a misleading trailing `Z`; we keep
the wall clock and drop the `Z` rather than converting, because weeks and days are bucketed by
the runner's own clock. GPS, names and maps are never copied (Strava terms, and no rule needs
them).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from strideguard.rules import ActivityRecord

# "(GMT-05:00) America/New_York" -> "America/New_York"
_TIMEZONE = re.compile(r"^\s*(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)\s*$")


class MappingError(ValueError):
    """A Strava activity lacks a field we need; the message names the field and the id."""


def iana_timezone(strava_timezone: object) -> str | None:
    """The IANA zone inside Strava's "(GMT+01:00) Europe/Oslo" form, or None if unknown."""
    if not isinstance(strava_timezone, str):
        return None
    match = _TIMEZONE.match(strava_timezone)
    if not match:
        return None
    name = match.group("name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def units_from_preference(measurement_preference: object) -> str:
    """Strava's "feet" means the runner thinks in miles; anything else in kilometres."""
    return "mi" if measurement_preference == "feet" else "km"


def parse_utc(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_local(value: str) -> dt.datetime:
    """The wall clock as written; the `Z` Strava appends is not a real offset."""
    text = value.removesuffix("Z")
    parsed = dt.datetime.fromisoformat(text)
    return parsed.replace(tzinfo=None)


def _required(summary: Mapping[str, Any], field: str) -> Any:
    value = summary.get(field)
    if value is None:
        raise MappingError(f"activity {summary.get('id', '?')}: field {field!r} is missing")
    return value


def activity_fields(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of an `Activity` row (without athlete_id) from a Summary/DetailedActivity."""
    try:
        return {
            "strava_id": int(_required(summary, "id")),
            "sport_type": str(summary.get("sport_type") or _required(summary, "type")),
            "start_date": parse_utc(str(_required(summary, "start_date"))),
            "start_date_local": parse_local(str(_required(summary, "start_date_local"))),
            "timezone": iana_timezone(summary.get("timezone")),
            "distance_m": round(float(summary.get("distance") or 0)),
            "moving_time_s": int(summary.get("moving_time") or 0),
            "elevation_gain_dm": round(float(summary.get("total_elevation_gain") or 0) * 10),
            "trainer": bool(summary.get("trainer")),
            "manual": bool(summary.get("manual")),
            "gear_id": summary.get("gear_id") or None,
        }
    except (TypeError, ValueError) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"activity {summary.get('id', '?')}: {exc}") from None


def from_strava_summary(
    summary: Mapping[str, Any], fallback_zone: ZoneInfo | None = None
) -> ActivityRecord:
    """The engine's input from one SummaryActivity, read exactly as the sync reads it.

    For files (the rules CLI, a backtest of an export): a missing `start_date_local` is
    derived from the UTC start in the activity's own zone, or else in `fallback_zone`; with
    neither, the activity cannot be placed in a local week.
    """
    try:
        if summary.get("start_date_local") is None:
            summary = {**summary, "start_date_local": _derived_local(summary, fallback_zone)}
        athlete = summary.get("athlete")
        owner = int((athlete.get("id") if isinstance(athlete, Mapping) else 0) or 0)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"activity {summary.get('id', '?')}: {exc}") from None
    return ActivityRecord(athlete_id=owner, **record_fields(activity_fields(summary)))


def record_fields(columns: Mapping[str, Any]) -> dict[str, Any]:
    """An `Activity` row's columns as the engine's `ActivityRecord` names them: the engine
    knows no Strava, so Strava's `strava_id` is its `activity_id`."""
    fields = dict(columns)
    fields["activity_id"] = fields.pop("strava_id")
    return fields


def _derived_local(summary: Mapping[str, Any], fallback_zone: ZoneInfo | None) -> str:
    start = parse_utc(str(_required(summary, "start_date")))
    zone_name = iana_timezone(summary.get("timezone"))
    zone = ZoneInfo(zone_name) if zone_name else fallback_zone
    if zone is None:
        raise MappingError(
            f"activity {summary.get('id', '?')}: no 'start_date_local' and no time zone "
            "to derive it (give --athlete-tz)"
        )
    return start.astimezone(zone).replace(tzinfo=None).isoformat()
