"""The one home of the time helpers every layer above the engine shares.

SQLite hands back naive datetimes for timezone columns, athletes' zones can be names this
machine's tz database lacks, and weeks are named by their Monday; each of these used to be
answered in several modules, slightly differently.
"""

from __future__ import annotations

import datetime as dt
from typing import overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from strideguard.rules import week_start_of

__all__ = ["WEEK", "aware", "due_at", "week_start_of", "zone_or_utc"]

WEEK = dt.timedelta(days=7)


@overload
def aware(moment: dt.datetime) -> dt.datetime: ...
@overload
def aware(moment: None) -> None: ...
@overload
def aware(moment: dt.datetime | None) -> dt.datetime | None: ...
def aware(moment: dt.datetime | None) -> dt.datetime | None:
    """`moment` as an aware datetime: a naive one was written as UTC (SQLite drops the zone)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The athlete's zone; an unknown or empty name falls back to UTC rather than stopping work."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def due_at(week_start: dt.date, zone: ZoneInfo, grace: dt.timedelta) -> dt.datetime:
    """The UTC instant the week starting on `week_start` becomes due in `zone` (its close plus
    the grace, in wall-clock time; worker/weeks.py explains the DST cases)."""
    closes = dt.datetime.combine(week_start + WEEK, dt.time())
    return (closes + grace).replace(tzinfo=zone).astimezone(dt.UTC)
