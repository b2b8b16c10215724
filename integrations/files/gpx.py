"""GPX files read with the standard library's XML parser. GPX states no totals, so distance,
moving time and gain all come from the track (see `track`), and the track needs four values
per point: time, latitude, longitude, elevation. gpxpy, used at first, builds its whole object
model for each point (every field, extension and attribute, by reflection), four times the
CPU of reading those four values from the parser's C tree; the values are the same. GPX 1.0
and 1.1 are read alike (`namespace`), and the extensions Garmin, Strava and phone apps add
are not looked at.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from strideguard.integrations.files.reading import Reading
from strideguard.integrations.files.record import FileRejected
from strideguard.integrations.files.sports import from_gpx
from strideguard.integrations.files.track import Point
from strideguard.integrations.files.xmlsafe import namespace, utc_time, xml_text


def parse_gpx(content: bytes, name: str) -> Reading:
    """A `Reading` of one GPX file's tracks; `FileRejected` when it has no timed points."""
    points: list[Point] = []
    untimed = 0
    track_type: str | None = None
    try:
        root = ET.fromstring(xml_text(content, name))  # noqa: S314
        ns = namespace(root)
        if root.tag != f"{ns}gpx":
            raise ValueError(f"the document is <{root.tag.removeprefix(ns)}>, not <gpx>")
        for track in root.iter(f"{ns}trk"):
            track_type = track_type or (track.findtext(f"{ns}type") or "").strip() or None
            for point in track.iter(f"{ns}trkpt"):
                stamp = point.findtext(f"{ns}time")
                if not stamp or not stamp.strip():
                    untimed += 1
                    continue
                elevation = point.findtext(f"{ns}ele")
                points.append(
                    Point(
                        utc_time(stamp).timestamp(),
                        float(point.get("lat", "")),
                        float(point.get("lon", "")),
                        float(elevation) if elevation and elevation.strip() else None,
                    )
                )
    except (ET.ParseError, ValueError) as exc:
        raise FileRejected(name, f"not a readable GPX file ({exc})") from None
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
        device=(root.get("creator") or "").strip() or None,
    )
