"""GPX files read with gpxpy: the maintained GPX 1.0/1.1 parser, tolerant of the extensions
Garmin, Strava and phone apps add. GPX states no totals, so distance, moving time and gain
all come from the track (see `track`)."""

from __future__ import annotations

import datetime as dt

import gpxpy
import gpxpy.gpx

from strideguard.integrations.files.reading import Reading
from strideguard.integrations.files.record import FileRejected
from strideguard.integrations.files.sports import from_gpx
from strideguard.integrations.files.track import Point
from strideguard.integrations.files.xmlsafe import xml_text


def parse_gpx(content: bytes, name: str) -> Reading:
    """A `Reading` of one GPX file's tracks; `FileRejected` when it has no timed points."""
    try:
        document = gpxpy.parse(xml_text(content, name).decode("utf-8"))
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError) as exc:
        raise FileRejected(name, f"not a readable GPX file ({exc})") from None
    points: list[Point] = []
    untimed = 0
    track_type = None
    for track in document.tracks:
        track_type = track_type or track.type
        for segment in track.segments:
            for point in segment.points:
                if point.time is None:
                    untimed += 1
                    continue
                stamp = point.time if point.time.tzinfo else point.time.replace(tzinfo=dt.UTC)
                points.append(
                    Point(stamp.timestamp(), point.latitude, point.longitude, point.elevation)
                )
    if not points:
        if untimed:
            raise FileRejected(
                name, f"its {untimed} track points have no times: cannot tell when or how fast"
            )
        raise FileRejected(name, "no track points (a route or waypoints only?)")
    points.sort(key=lambda p: p.t)
    return Reading(
        source="gpx",
        name=name,
        sport=from_gpx(track_type),
        points=points,
        device=(document.creator or "").strip() or None,
    )
