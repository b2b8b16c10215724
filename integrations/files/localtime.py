"""The runner's wall clock at the start of an activity, which decides its day and week.

In order: the wall clock the device wrote (FIT `local_timestamp`); else the zone at the track's
first position (tzfpy, an offline lookup); else the athlete's own zone. A virtual run's
positions are a game world's (Zwift's Watopia sits in the Pacific), so they are never looked up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzfpy

from strideguard.integrations.files.record import FileRejected

# A device's local clock is its UTC clock plus the zone offset; anything beyond ±14 h is a
# clock that was never set, not a zone.
_MAX_OFFSET = dt.timedelta(hours=14)


@dataclass(frozen=True, slots=True)
class WallClock:
    local: dt.datetime  # naive
    timezone: str | None


def zone_at(lat: float, lon: float) -> str | None:
    """The IANA zone at a position, or None at sea or for a name this system does not know."""
    name = tzfpy.get_tz(lon, lat)
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def wall_clock(
    name: str,
    start_utc: dt.datetime,
    *,
    device_local: dt.datetime | None = None,
    first_position: tuple[float, float] | None = None,
    athlete_zone: ZoneInfo | None = None,
) -> WallClock:
    """The local start; `FileRejected` when nothing places it (pass the athlete's zone)."""
    zone_name = zone_at(*first_position) if first_position else None
    if zone_name is None and athlete_zone is not None:
        zone_name = athlete_zone.key
    if device_local is not None:
        naive = device_local.replace(tzinfo=None)
        if abs(naive - start_utc.replace(tzinfo=None)) <= _MAX_OFFSET:
            return WallClock(naive, zone_name)
    if zone_name is None:
        raise FileRejected(
            name, "no local time: the file has no time zone or position; give the athlete's zone"
        )
    return WallClock(start_utc.astimezone(ZoneInfo(zone_name)).replace(tzinfo=None), zone_name)
