"""A simulator history (Strava SummaryActivity JSON) written as the Strava bulk export a runner
would download: activities.csv plus one FIT, GPX or TCX file per recorded activity. Used by
the parity test and the import benchmark."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path
from typing import Any

from fit_tool.profile.profile_type import Sport, SubSport

from strideguard.integrations.strava.mapping import from_strava_summary
from tests.files.writers import ExportRowSpec, RunSpec, export_csv, fit_bytes, gpx_bytes, tcx_bytes

CSV_TYPES = {
    "TrailRun": "Trail Run",
    "VirtualRun": "Virtual Run",
    "WeightTraining": "Weight Training",
}


def activity_file(activity: dict[str, Any], index: int, step_s: int) -> tuple[str, bytes]:
    """(export path, gzip-compressed content) for one recorded activity; the format rotates."""
    record = from_strava_summary(activity)
    spec = RunSpec(
        start=record.start_date,
        distance_m=float(activity["distance"]),
        moving_s=int(activity["moving_time"]),
        pause_s=int(activity["elapsed_time"]) - int(activity["moving_time"]),
        gain_m=float(activity["total_elevation_gain"]),
        origin=tuple(activity["start_latlng"]) if activity["start_latlng"] else None,
        step_s=step_s,
        local_offset=record.start_date_local - record.start_date.replace(tzinfo=None),
    )
    ident = activity["id"]
    sport = activity["sport_type"]
    if sport == "WeightTraining":
        content = fit_bytes(spec, Sport.TRAINING, SubSport.STRENGTH_TRAINING)
    elif activity["trainer"]:
        content = fit_bytes(spec, Sport.RUNNING, SubSport.TREADMILL)
    elif sport == "VirtualRun":
        content = fit_bytes(spec, Sport.RUNNING, SubSport.VIRTUAL_ACTIVITY)
    elif index % 3 == 1:
        return f"activities/{ident}.gpx.gz", gzip.compress(gpx_bytes(spec), mtime=0)
    elif index % 3 == 2:
        return f"activities/{ident}.tcx.gz", gzip.compress(tcx_bytes(spec), mtime=0)
    else:
        sub = SubSport.TRAIL if sport == "TrailRun" else SubSport.GENERIC
        content = fit_bytes(spec, Sport.RUNNING, sub)
    return f"activities/{ident}.fit.gz", gzip.compress(content, mtime=0)


def write_export(history: dict[str, Any], path: Path, step_s: int = 30) -> Path:
    """The export ZIP; manual entries get a CSV row and no file, as on Strava."""
    gear_names = {shoe["id"]: shoe["name"] for shoe in history["gear"]}
    rows = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for index, activity in enumerate(history["activities"]):
            filename = ""
            if not activity["manual"]:
                filename, content = activity_file(activity, index, step_s)
                archive.writestr(filename, content)
            rows.append(
                ExportRowSpec(
                    strava_id=activity["id"],
                    start=from_strava_summary(activity).start_date,
                    activity_type=CSV_TYPES.get(activity["sport_type"], activity["sport_type"]),
                    distance_m=float(activity["distance"]),
                    elapsed_s=int(activity["elapsed_time"]),
                    moving_s=int(activity["moving_time"]),
                    gain_m=float(activity["total_elevation_gain"]),
                    filename=filename,
                    gear=gear_names.get(activity["gear_id"], ""),
                )
            )
        archive.writestr("activities.csv", export_csv(rows))
    return path
