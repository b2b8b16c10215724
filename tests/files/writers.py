"""Real activity files for the tests and the benchmark: FIT through fit-tool's encoder, GPX and
TCX written as their schemas lay them out.

The track is an out-and-back along a meridian from `origin`, so its haversine length is the
distance asked for; it climbs `gain_m` on the way out and descends on the way back, and stands
still for `pause_s` at the end (which moving time must drop).
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
from dataclasses import dataclass
from pathlib import Path

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.activity_message import ActivityMessage
from fit_tool.profile.messages.device_info_message import DeviceInfoMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.profile_type import FileType, Manufacturer, Sport, SubSport

from strideguard.integrations.files.track import EARTH_RADIUS_M

FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
OSLO = (59.9139, 10.7522)


@dataclass(frozen=True)
class RunSpec:
    start: dt.datetime  # UTC
    distance_m: float
    moving_s: int
    pause_s: int = 0
    gain_m: float = 0.0
    origin: tuple[float, float] | None = OSLO  # None: indoors, no positions
    step_s: int = 5
    local_offset: dt.timedelta | None = None  # FIT local_timestamp = start + offset
    device: str = "Forerunner 265"


@dataclass(frozen=True)
class Sample:
    t: dt.datetime
    distance_m: float
    lat: float | None
    lon: float | None
    elevation_m: float


def samples(spec: RunSpec) -> list[Sample]:
    half = spec.distance_m / 2
    times = sorted({*range(0, spec.moving_s, spec.step_s), spec.moving_s / 2, spec.moving_s})
    out: list[Sample] = []
    for second in times:
        covered = spec.distance_m * second / spec.moving_s if spec.moving_s else 0.0
        offset = covered if covered <= half else spec.distance_m - covered
        out.append(_sample(spec, float(second), covered, offset, half))
    for second in range(spec.moving_s + spec.step_s, spec.moving_s + spec.pause_s + 1, spec.step_s):
        out.append(_sample(spec, float(second), spec.distance_m, 0.0, half))
    return out


def _sample(spec: RunSpec, second: float, covered: float, offset: float, half: float) -> Sample:
    lat = lon = None
    if spec.origin is not None:
        lat = spec.origin[0] + math.degrees(offset / EARTH_RADIUS_M)
        lon = spec.origin[1]
    elevation = 100.0 + (spec.gain_m * offset / half if half else 0.0)
    t = spec.start + dt.timedelta(seconds=second)
    return Sample(t, covered, lat, lon, elevation)


def _ms(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)


def fit_bytes(
    spec: RunSpec, sport: Sport = Sport.RUNNING, sub_sport: SubSport = SubSport.GENERIC
) -> bytes:
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.GARMIN.value
    file_id.product = 0
    file_id.time_created = _ms(spec.start)
    file_id.serial_number = 0x1234
    builder.add(file_id)
    device = DeviceInfoMessage()
    device.timestamp = _ms(spec.start)
    device.device_index = 0
    device.product_name = spec.device
    builder.add(device)
    records = []
    for sample in samples(spec) if spec.distance_m else []:
        record = RecordMessage()
        record.timestamp = _ms(sample.t)
        record.distance = sample.distance_m
        record.altitude = sample.elevation_m
        if sample.lat is not None and sample.lon is not None:
            record.position_lat = sample.lat
            record.position_long = sample.lon
        records.append(record)
    builder.add_all(records)
    end = spec.start + dt.timedelta(seconds=spec.moving_s + spec.pause_s)
    session = SessionMessage()
    session.timestamp = _ms(end)
    session.start_time = _ms(spec.start)
    session.sport = sport
    session.sub_sport = sub_sport
    session.total_timer_time = float(spec.moving_s)
    session.total_elapsed_time = float(spec.moving_s + spec.pause_s)
    if spec.distance_m:
        session.total_distance = spec.distance_m
    session.total_ascent = round(spec.gain_m)
    builder.add(session)
    activity = ActivityMessage()
    activity.timestamp = _ms(end)
    if spec.local_offset is not None:
        local = spec.start + spec.local_offset
        activity.local_timestamp = round((local - FIT_EPOCH).total_seconds())
    builder.add(activity)
    return bytes(builder.build().to_bytes())


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def gpx_bytes(spec: RunSpec, track_type: str | None = "running", timed: bool = True) -> bytes:
    points = []
    for sample in samples(spec):
        time = f"<time>{_stamp(sample.t)}</time>" if timed else ""
        points.append(
            f'<trkpt lat="{sample.lat:.9f}" lon="{sample.lon:.9f}">'
            f"<ele>{sample.elevation_m:.2f}</ele>{time}</trkpt>"
        )
    kind = f"<type>{track_type}</type>" if track_type else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<gpx creator="{spec.device}" version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<metadata><time>{_stamp(spec.start)}</time></metadata>"
        f"<trk><name>Run</name>{kind}<trkseg>{''.join(points)}</trkseg></trk></gpx>"
    ).encode()


def tcx_bytes(spec: RunSpec, sport: str = "Running", track: bool = True) -> bytes:
    points = []
    for sample in samples(spec) if track else []:
        position = (
            f"<Position><LatitudeDegrees>{sample.lat:.9f}</LatitudeDegrees>"
            f"<LongitudeDegrees>{sample.lon:.9f}</LongitudeDegrees></Position>"
            if sample.lat is not None
            else ""
        )
        points.append(
            f"<Trackpoint><Time>{_stamp(sample.t)}</Time>{position}"
            f"<AltitudeMeters>{sample.elevation_m:.2f}</AltitudeMeters>"
            f"<DistanceMeters>{sample.distance_m:.3f}</DistanceMeters></Trackpoint>"
        )
    track_xml = f"<Track>{''.join(points)}</Track>" if track else ""
    # Strava's TCX files start with spaces before the XML declaration; so does this one.
    return (
        '          <?xml version="1.0" encoding="UTF-8"?>\n'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2">'
        f'<Activities><Activity Sport="{sport}"><Id>{_stamp(spec.start)}</Id>'
        f'<Lap StartTime="{_stamp(spec.start)}">'
        f"<TotalTimeSeconds>{spec.moving_s}</TotalTimeSeconds>"
        f"<DistanceMeters>{spec.distance_m}</DistanceMeters>{track_xml}</Lap>"
        f"<Creator><Name>{spec.device}</Name></Creator></Activity></Activities>"
        "</TrainingCenterDatabase>"
    ).encode()


def write(path: Path, content: bytes, gzipped: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content, mtime=0) if gzipped else content)
    return path


# The header of a real activities.csv from a Strava bulk export (2024 layout, as published in
# public export readers): "Elapsed Time" and "Distance" appear twice, display units first.
EXPORT_HEADER = (
    "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,Elapsed Time,"
    "Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,Activity Gear,"
    "Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance,Max Speed,"
    "Average Speed,Elevation Gain,Elevation Loss,Elevation Low,Elevation High,Max Grade,"
    "Average Grade,Average Positive Grade,Average Negative Grade,Max Cadence,Average Cadence,"
    "Max Heart Rate,Average Heart Rate,Max Watts,Average Watts,Calories,Max Temperature,"
    "Average Temperature,Relative Effort,Total Work,Number of Runs,Uphill Time,Downhill Time,"
    "Other Time,Perceived Exertion,Type,Start Time,Weighted Average Power,Power Count,"
    "Prefer Perceived Exertion,Perceived Relative Effort,Commute,Total Weight Lifted,"
    "From Upload,Grade Adjusted Distance,Weather Observation Time,Weather Condition,"
    "Weather Temperature,Apparent Temperature,Dewpoint,Humidity,Weather Pressure,Wind Speed,"
    "Wind Gust,Wind Bearing,Precipitation Intensity,Sunrise Time,Sunset Time,Moon Phase,Bike,"
    "Gear,Precipitation Probability,Precipitation Type,Cloud Cover,Weather Visibility,UV Index,"
    "Weather Ozone,Jump Count,Total Grit,Average Flow,Flagged,Average Elapsed Speed,"
    "Dirt Distance,Newly Explored Distance,Newly Explored Dirt Distance,Activity Count,"
    "Total Steps,Carbon Saved,Pool Length,Training Load,Intensity,"
    "Average Grade Adjusted Pace,Timer Time,Total Cycles,Media"
)


@dataclass(frozen=True)
class ExportRowSpec:
    strava_id: int
    start: dt.datetime
    activity_type: str  # as the CSV shows it: "Run", "Trail Run", "Weight Training"
    distance_m: float
    elapsed_s: int
    moving_s: int
    gain_m: float
    filename: str = ""
    gear: str = ""
    miles: bool = False  # the runner's display units, used in the first "Distance" column


def export_csv(rows: list[ExportRowSpec]) -> str:
    import csv
    import io

    header = EXPORT_HEADER.split(",")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        cells = [""] * len(header)
        display = row.distance_m / (1609.344 if row.miles else 1000)
        values = {
            0: str(row.strava_id),
            1: row.start.strftime("%b %-d, %Y, %-I:%M:%S %p"),
            2: "Morning Run",
            3: row.activity_type,
            5: str(row.elapsed_s),
            6: f"{display:.2f}",
            9: "false",
            11: row.gear,
            12: row.filename,
            15: f"{float(row.elapsed_s)}",
            16: f"{float(row.moving_s)}",
            17: f"{row.distance_m}",
            20: f"{row.gain_m}",
        }
        for index, value in values.items():
            cells[index] = value
        writer.writerow(cells)
    return out.getvalue()
