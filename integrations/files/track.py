"""Figures computed from a track when the file does not state them.

Methods (stated here because they decide the numbers a runner sees):

- Distance: the sum of haversine distances between consecutive positions, on a sphere of
  radius 6,371,008.8 m (the IUGG mean radius), used only when the file has no distance of its
  own (a FIT session total, a cumulative distance stream).
- Moving time: the sum of the intervals between consecutive timed points whose speed is at
  least `MOVING_SPEED_MS` (0.5 m/s, 1.8 km/h, slower than any walk). Pauses, stops at lights
  and auto-pause gaps fall below it and are dropped; a steep hike still counts.
- Elevation gain: turning-point hysteresis of `GAIN_HYSTERESIS_M` (3 m). A climb counts, whole,
  from its low point to its high point once the high is followed by a 3 m drop (or the end),
  and only if it rose at least 3 m. GPS and barometric noise below 3 m is dropped without
  shaving every real climb the way a moving average or a dead band does.

Points live only inside the reader's call; none is returned or stored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8
MOVING_SPEED_MS = 0.5
GAIN_HYSTERESIS_M = 3.0


@dataclass(frozen=True, slots=True)
class Point:
    """One timed sample; any of position, elevation or cumulative distance may be absent."""

    t: float  # seconds since the epoch, UTC
    lat: float | None = None
    lon: float | None = None
    elevation_m: float | None = None
    distance_m: float | None = None  # cumulative, as the device measured it


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two positions in degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def has_positions(points: Sequence[Point]) -> bool:
    return any(p.lat is not None and p.lon is not None for p in points)


def _steps(points: Sequence[Point]) -> list[tuple[float, float]]:
    """(seconds, metres) between consecutive points, from the distance stream when every
    point has one, else from positions; points without either are bridged over."""
    use_stream = all(p.distance_m is not None for p in points)
    steps: list[tuple[float, float]] = []
    previous: Point | None = None
    for point in points:
        if not use_stream and (point.lat is None or point.lon is None):
            continue
        if previous is not None:
            if use_stream:
                metres = max(0.0, (point.distance_m or 0.0) - (previous.distance_m or 0.0))
            else:
                metres = haversine_m(
                    previous.lat or 0.0, previous.lon or 0.0, point.lat or 0.0, point.lon or 0.0
                )
            steps.append((point.t - previous.t, metres))
        previous = point
    return steps


def distance_and_moving_time(points: Sequence[Point]) -> tuple[float, float]:
    """(distance, moving time) of a track, from one pass over its steps (haversine is the
    costly part); the distance is the device's own cumulative figure when every point has one."""
    steps = _steps(points)
    moving = sum(s for s, metres in steps if s > 0 and metres >= MOVING_SPEED_MS * s)
    stream = [p.distance_m for p in points if p.distance_m is not None]
    if stream and len(stream) == len(points):
        return max(stream) - stream[0], moving
    return sum(metres for _, metres in steps), moving


def elevation_gain_m(elevations: Sequence[float], hysteresis: float = GAIN_HYSTERESIS_M) -> float:
    """Total climb by turning-point hysteresis (see the module docstring)."""
    if not elevations:
        return 0.0
    gain = 0.0
    low = high = elevations[0]
    for elevation in elevations[1:]:
        if elevation > high:
            high = elevation
        elif high - elevation >= hysteresis:
            if high - low >= hysteresis:
                gain += high - low
            low = high = elevation
        elif elevation < low:
            low = high = elevation
    if high - low >= hysteresis:
        gain += high - low
    return gain
