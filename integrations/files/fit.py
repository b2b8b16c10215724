"""FIT files (Garmin, COROS, Polar, Suunto, Wahoo, Zwift) read with fitdecode.

The first session message gives the sport, start, distance, timer time and ascent as the
device computed them; the record stream gives moving time (same method as GPX and TCX) and
the first position for the time zone; the activity message gives the device's wall clock.
A multi-sport file is read as its first session. The CRC is checked, so a truncated or
damaged file is refused rather than half-read.

fitdecode runs without its data processor: the processor turns every `date_time` of every
record into a `datetime`, a sixth of a FIT read, while the track needs only seconds. The
few times kept are converted here (`_utc`, `_seconds`).
"""

from __future__ import annotations

import datetime as dt
import io
import struct
from typing import Any

import fitdecode
from fitdecode.processors import FIT_DATETIME_MIN, FIT_UTC_REFERENCE

from strideguard.integrations.files.reading import Reading
from strideguard.integrations.files.record import Detail, FileRejected
from strideguard.integrations.files.sports import from_fit
from strideguard.integrations.files.track import Point

# What fitdecode's own code raises on some damaged bytes before the CRC at the end is reached
# (found by flipping and cutting bytes of real files); a damaged file, not a bug of ours.
_DECODER_SLIPS = (
    AssertionError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    struct.error,
)


def _values(frame: fitdecode.FitDataMessage) -> dict[str, Any]:
    return {f.name: f.value for f in frame.fields if f.value is not None}


def _device_name(values: dict[str, Any]) -> str | None:
    if values.get("product_name"):
        return str(values["product_name"]).strip() or None
    product = values.get("garmin_product", values.get("product"))
    maker = values.get("manufacturer")
    if isinstance(product, str) or (maker and product):
        return " ".join(str(part) for part in (maker, product) if part)
    return None


def parse_fit(content: bytes, name: str) -> Reading:
    """A `Reading` of one FIT file; `FileRejected` names what is wrong with it."""
    session: dict[str, Any] | None = None
    points: list[Point] = []
    device: str | None = None
    local: dt.datetime | None = None
    is_activity = False
    try:
        with fitdecode.FitReader(
            io.BytesIO(content), check_crc=fitdecode.CrcCheck.RAISE, processor=None
        ) as reader:
            for frame in reader:
                if not isinstance(frame, fitdecode.FitDataMessage):
                    continue
                if frame.name == "record":
                    point = _point(frame)
                    if point is not None:
                        points.append(point)
                elif frame.name == "session" and session is None:
                    session = _values(frame)
                elif frame.name == "activity":
                    local = _utc(_values(frame).get("local_timestamp")) or local
                elif frame.name == "file_id":
                    values = _values(frame)
                    is_activity = values.get("type") == "activity"
                    device = device or _device_name(values)
                elif frame.name == "device_info":
                    values = _values(frame)
                    if values.get("device_index") in (None, 0, "creator"):
                        device = _device_name(values) or device
    except (fitdecode.FitError, *_DECODER_SLIPS) as exc:
        raise FileRejected(name, f"not a readable FIT file ({_short(exc)})") from None
    if not is_activity:
        raise FileRejected(name, "a FIT file, but not an activity (a course, workout or settings?)")
    session = session or {}
    return Reading(
        source="fit",
        name=name,
        sport=from_fit(session.get("sport"), session.get("sub_sport")),
        start=_utc(session.get("start_time")),
        points=points,
        device_local=local,
        distance_m=_number(session.get("total_distance")),
        moving_time_s=_number(session.get("total_timer_time")),
        elevation_gain_m=_number(session.get("total_ascent")),
        device=device,
        detail=Detail.DEVICE if session else Detail.TRACK,
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


_RECORD_FIELDS = frozenset(
    {"timestamp", "position_lat", "position_long", "enhanced_altitude", "altitude", "distance"}
)


def _point(frame: fitdecode.FitDataMessage) -> Point | None:
    """The record's few fields we use (the hot loop of a FIT read: no dict of all fields)."""
    values = {f.name: f.value for f in frame.fields if f.name in _RECORD_FIELDS}
    seconds = _seconds(values.get("timestamp"))
    if seconds is None:
        return None
    lat, lon = values.get("position_lat"), values.get("position_long")
    located = isinstance(lat, int) and isinstance(lon, int)
    elevation = values.get("enhanced_altitude")
    return Point(
        t=seconds,
        lat=lat * _SEMICIRCLE if located else None,  # type: ignore[operator]
        lon=lon * _SEMICIRCLE if located else None,  # type: ignore[operator]
        elevation_m=_number(values.get("altitude") if elevation is None else elevation),
        distance_m=_number(values.get("distance")),
    )


_SEMICIRCLE = 180 / 2**31


def _seconds(value: object) -> float | None:
    """A FIT `date_time` (seconds since 1989-12-31 UTC) as Unix seconds; None when absent or
    below FIT_DATETIME_MIN, which marks a time relative to the device's power-on."""
    if not isinstance(value, int) or value < FIT_DATETIME_MIN:
        return None
    return float(FIT_UTC_REFERENCE + value)


def _utc(value: object) -> dt.datetime | None:
    """A FIT `date_time` as an aware UTC datetime (a `local_date_time` too: its wall clock
    written as if in UTC, as fitdecode's processor gives it)."""
    seconds = _seconds(value)
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC)


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
