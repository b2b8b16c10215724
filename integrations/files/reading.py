"""The steps every format shares once its parser has run: fill in what the file lacks from
the track (see `track`), place the start on the runner's wall clock (see `localtime`), round
as the Strava sync rounds (whole metres, whole seconds, decimetres of climb)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from strideguard.integrations.files.localtime import wall_clock
from strideguard.integrations.files.record import Detail, FileActivity, FileRejected
from strideguard.integrations.files.sports import Sport
from strideguard.integrations.files.track import (
    Point,
    distance_and_moving_time,
    elevation_gain_m,
    has_positions,
)


@dataclass(slots=True)
class Reading:
    """What a format's parser found; None means the file does not state it."""

    source: str
    name: str
    sport: Sport
    start: dt.datetime | None = None
    points: list[Point] = field(default_factory=list)
    device_local: dt.datetime | None = None
    distance_m: float | None = None
    moving_time_s: float | None = None
    elevation_gain_m: float | None = None
    device: str | None = None
    detail: Detail = Detail.TRACK


def _movement_known(points: list[Point]) -> bool:
    with_motion = [p for p in points if p.distance_m is not None or p.lat is not None]
    return len(with_motion) >= 2


def finish(reading: Reading, athlete_zone: ZoneInfo | None) -> FileActivity:
    """The `FileActivity` for a parser's findings; `FileRejected` when a needed figure is
    neither stated nor computable."""
    points = reading.points
    start = reading.start or (dt.datetime.fromtimestamp(points[0].t, dt.UTC) if points else None)
    if start is None:
        raise FileRejected(reading.name, "no start time anywhere in the file")
    movement = _movement_known(points)
    track_distance, track_moving = distance_and_moving_time(points) if movement else (0.0, None)
    distance = track_distance if reading.distance_m is None else reading.distance_m
    moving = reading.moving_time_s if track_moving is None else track_moving
    if moving is None:
        raise FileRejected(reading.name, "no timed track and no total time: cannot tell its length")
    gain = reading.elevation_gain_m
    if gain is None:
        gain = elevation_gain_m([p.elevation_m for p in points if p.elevation_m is not None])
    first = next((p for p in points if p.lat is not None and p.lon is not None), None)
    virtual = reading.sport.sport_type.startswith("Virtual")
    clock = wall_clock(
        reading.name,
        start,
        device_local=reading.device_local,
        first_position=(first.lat, first.lon) if first and not virtual else None,  # type: ignore[arg-type]
        athlete_zone=athlete_zone,
    )
    return FileActivity(
        source=reading.source,
        name=reading.name,
        sport_type=reading.sport.sport_type,
        start_date=start.astimezone(dt.UTC),
        start_date_local=clock.local,
        timezone=clock.timezone,
        distance_m=round(distance),
        moving_time_s=round(moving),
        elevation_gain_dm=round(gain * 10),
        trainer=reading.sport.trainer
        or (bool(points) and not has_positions(points) and distance > 0),
        manual=False,
        device=reading.device,
        gear_name=None,
        detail=reading.detail,
    )
