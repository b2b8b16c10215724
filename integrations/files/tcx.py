"""TCX files read with the standard library's XML parser: TCX is a small fixed schema,
tcxreader adds a dependency to compute figures we compute ourselves, and the stdlib copes with
Strava's TCX files once their leading whitespace is stripped. The document is built in C and
searched by qualified name (`iter`, `findtext`), so no Python code runs per XML element, only
per point: a file is at most 64 MB (`unpack.Limits`), which the tree holds easily.

Distance is the device's cumulative DistanceMeters when present, else the track's; a file
with laps but no track points is read from its lap totals (distance and time are required
lap fields in the schema) and marked as a summary.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from strideguard.integrations.files.reading import Reading
from strideguard.integrations.files.record import Detail, FileRejected
from strideguard.integrations.files.sports import from_tcx
from strideguard.integrations.files.track import Point
from strideguard.integrations.files.xmlsafe import xml_text


def namespace(root: ET.Element) -> str:
    """The `{uri}` prefix of the document's element names ("" when it declares none)."""
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""


def _number(element: ET.Element | None, path: str) -> float | None:
    text = element.findtext(path) if element is not None else None
    return float(text) if text and text.strip() else None


def _time(text: str | None) -> dt.datetime:
    stamp = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def parse_tcx(content: bytes, name: str) -> Reading:
    """A `Reading` of a TCX file's first activity; `FileRejected` names what is missing."""
    try:
        root = ET.fromstring(xml_text(content, name))  # noqa: S314
        ns = namespace(root)
        activity = next(root.iter(f"{ns}Activity"), None)
        if activity is None:
            raise FileRejected(name, "no laps and no track points: nothing to read")
        laps = [
            (
                _time(lap.get("StartTime")),
                _number(lap, f"{ns}DistanceMeters"),
                _number(lap, f"{ns}TotalTimeSeconds"),
            )
            for lap in activity.iter(f"{ns}Lap")
        ]
        points = [_trackpoint(point, ns) for point in activity.iter(f"{ns}Trackpoint")]
    except (ET.ParseError, ValueError) as exc:
        raise FileRejected(name, f"not a readable TCX file ({exc})") from None
    sport = activity.get("Sport")
    device = (activity.findtext(f"{ns}Creator/{ns}Name") or "").strip() or None
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


def _trackpoint(element: ET.Element, ns: str) -> Point:
    """One point's figures, looked up by the parser's own (C) search: the hot loop."""
    stamp = element.findtext(f"{ns}Time")
    if not stamp or not stamp.strip():
        raise ValueError("a Trackpoint has no Time")
    position = element.find(f"{ns}Position")  # a plain name: a path would search in Python
    return Point(
        t=_time(stamp).timestamp(),
        lat=_number(position, f"{ns}LatitudeDegrees"),
        lon=_number(position, f"{ns}LongitudeDegrees"),
        elevation_m=_number(element, f"{ns}AltitudeMeters"),
        distance_m=_number(element, f"{ns}DistanceMeters"),
    )
