"""Where simulated runners live: real IANA zones east and west of UTC, and route shapes.

The zone label imitates Strava's "(GMT+01:00) Europe/Oslo": the offset in the label is the
zone's standard offset, while `utc_offset` carries the offset in force at the start (so a
summer run in Oslo says GMT+01:00 and 7200.0, as the recorded New York runs do).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Place:
    tz: str
    city: str
    state: str | None
    country: str
    lat: float
    lon: float
    imperial: bool = False


PLACES = (
    Place("Europe/Oslo", "Oslo", None, "Norway", 59.9139, 10.7522),
    Place("America/New_York", "New York", "NY", "United States", 40.7812, -73.9665, True),
    Place("America/Los_Angeles", "Los Angeles", "CA", "United States", 34.0522, -118.2437, True),
    Place("Asia/Tokyo", "Tokyo", None, "Japan", 35.6762, 139.6503),
    Place("Australia/Sydney", "Sydney", "NSW", "Australia", -33.8688, 151.2093),
    Place("America/Sao_Paulo", "São Paulo", "SP", "Brazil", -23.5505, -46.6333),
    Place("Europe/London", "London", None, "United Kingdom", 51.5074, -0.1278),
    Place("Asia/Kolkata", "Mumbai", "MH", "India", 19.0760, 72.8777),
    Place("America/Denver", "Boulder", "CO", "United States", 40.0150, -105.2705, True),
    Place("Pacific/Auckland", "Auckland", None, "New Zealand", -36.8485, 174.7633),
    Place("Africa/Nairobi", "Nairobi", None, "Kenya", -1.2921, 36.8219),
    Place("Europe/Berlin", "Berlin", None, "Germany", 52.5200, 13.4050),
)
# Zwift's Watopia sits in the Pacific; virtual runs carry its coordinates, as real ones do.
WATOPIA = (-11.6400, 166.9500)


def place_for(tz: str) -> Place:
    for place in PLACES:
        if place.tz == tz:
            return place
    ZoneInfo(tz)  # raises for a zone that does not exist
    return Place(tz, tz.rsplit("/", 1)[-1].replace("_", " "), None, "", 0.0, 0.0)


def strava_timezone(local: datetime, tz: str) -> tuple[str, datetime, float]:
    """(Strava's timezone label, the UTC start, utc_offset seconds) for a local wall time."""
    zone = ZoneInfo(tz)
    aware = local.replace(tzinfo=zone)
    offset = aware.utcoffset() or timedelta(0)
    standard = offset - (aware.dst() or timedelta(0))
    minutes = int(standard.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    label = f"(GMT{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}) {tz}"
    return label, aware.astimezone(ZoneInfo("UTC")), offset.total_seconds()


def loop_route(
    lat: float, lon: float, distance_m: float, rng: random.Random
) -> list[tuple[float, float]]:
    """A wobbly loop of about `distance_m` starting and ending near (lat, lon)."""
    radius_m = distance_m / (2 * math.pi)
    points = 40
    heading = rng.uniform(0, 2 * math.pi)
    centre_lat = lat + radius_m * math.sin(heading) / 111_320
    centre_lon = lon + radius_m * math.cos(heading) / (111_320 * math.cos(math.radians(lat)))
    route = []
    for i in range(points + 1):
        angle = heading + math.pi + 2 * math.pi * i / points
        wobble = 1 + rng.uniform(-0.08, 0.08)
        route.append(
            (
                centre_lat + radius_m * wobble * math.sin(angle) / 111_320,
                centre_lon
                + radius_m * wobble * math.cos(angle) / (111_320 * math.cos(math.radians(lat))),
            )
        )
    return route


def encode_polyline(route: list[tuple[float, float]]) -> str:
    """Google's encoded polyline (precision 5), the format of Strava's summary_polyline."""
    out = []
    previous = (0, 0)
    for lat, lon in route:
        point = (round(lat * 1e5), round(lon * 1e5))
        for value in (point[0] - previous[0], point[1] - previous[1]):
            value = ~(value << 1) if value < 0 else value << 1
            while value >= 0x20:
                out.append(chr((0x20 | (value & 0x1F)) + 63))
                value >>= 5
            out.append(chr(value + 63))
        previous = point
    return "".join(out)
