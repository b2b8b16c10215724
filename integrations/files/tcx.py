"""TCX files read with the standard library's XML parser (iterparse, streaming): TCX is a
small fixed schema, tcxreader adds a dependency to compute figures we compute ourselves, and
the stdlib copes with Strava's TCX files once their leading whitespace is stripped.

Distance is the device's cumulative DistanceMeters when present, else the track's; a file
with laps but no track points is read from its lap totals (distance and time are required
lap fields in the schema) and marked as a summary.
"""

from __future__ import annotations

import datetime as dt
import io
import xml.etree.ElementTree as ET

from strideguard.integrations.files.reading import Reading
from strideguard.integrations.files.record import Detail, FileRejected
from strideguard.integrations.files.sports import from_tcx
from strideguard.integrations.files.track import Point
from strideguard.integrations.files.xmlsafe import xml_text


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _number(element: ET.Element | None, name: str) -> float | None:
    found = _child(element, name) if element is not None else None
    if found is None or not (found.text or "").strip():
        return None
    return float(found.text or "")


def _time(text: str | None) -> dt.datetime:
    stamp = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def parse_tcx(content: bytes, name: str) -> Reading:
    """A `Reading` of a TCX file's first activity; `FileRejected` names what is missing."""
    sport: str | None = None
    laps: list[tuple[dt.datetime, float | None, float | None]] = []
    points: list[Point] = []
    device: str | None = None
    try:
        for _, element in ET.iterparse(io.BytesIO(xml_text(content, name)), events=("end",)):  # noqa: S314
            tag = _local(element.tag)
            if tag == "Trackpoint":
                points.append(_trackpoint(element))
                element.clear()
            elif tag == "Lap":
                laps.append(
                    (
                        _time(element.get("StartTime")),
                        _number(element, "DistanceMeters"),
                        _number(element, "TotalTimeSeconds"),
                    )
                )
                element.clear()
            elif tag == "Creator":
                creator = _child(element, "Name")
                device = (creator.text or "").strip() or None if creator is not None else None
            elif tag == "Activity" and sport is None:
                sport = element.get("Sport")
                break
    except (ET.ParseError, ValueError) as exc:
        raise FileRejected(name, f"not a readable TCX file ({exc})") from None
    if not laps and not points:
        raise FileRejected(name, "no laps and no track points: nothing to read")
    if points:
        return Reading("tcx", name, from_tcx(sport), points=points, device=device)
    if any(distance is None or seconds is None for _, distance, seconds in laps):
        raise FileRejected(name, "laps without a track, and a lap lacks its distance or time")
    return Reading(
        "tcx",
        name,
        from_tcx(sport),
        start=min(start for start, _, _ in laps),
        distance_m=sum(distance or 0.0 for _, distance, _ in laps),
        moving_time_s=sum(seconds or 0.0 for _, _, seconds in laps),
        elevation_gain_m=0.0,
        device=device,
        detail=Detail.SUMMARY,
    )


_POINT_FIELDS = {
    "Time": "t",
    "LatitudeDegrees": "lat",
    "LongitudeDegrees": "lon",
    "AltitudeMeters": "elevation_m",
    "DistanceMeters": "distance_m",
}


def _trackpoint(element: ET.Element) -> Point:
    """One pass over the point's descendants (the hot loop of a TCX read)."""
    found: dict[str, str] = {}
    for child in element.iter():
        field = _POINT_FIELDS.get(_local(child.tag))
        if field is not None and child.text and child.text.strip():
            found[field] = child.text
    if "t" not in found:
        raise ValueError("a Trackpoint has no Time")
    return Point(
        t=_time(found["t"]).timestamp(),
        lat=float(found["lat"]) if "lat" in found else None,
        lon=float(found["lon"]) if "lon" in found else None,
        elevation_m=float(found["elevation_m"]) if "elevation_m" in found else None,
        distance_m=float(found["distance_m"]) if "distance_m" in found else None,
    )
