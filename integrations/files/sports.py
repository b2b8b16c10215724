"""Each format's activity names, mapped to the Strava sport types the rules count.

`rules.yaml` counts Run, TrailRun and VirtualRun as running (treadmill = a Run with
`trainer`), WeightTraining and Crossfit as strength; other names pass through in Strava's own
spelling so an admin can add them to the rules.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sport:
    sport_type: str
    trainer: bool = False


# FIT (sport, sub_sport) as fitdecode names them; sub_sport None = any sub_sport
_FIT: dict[tuple[str, str | None], Sport] = {
    ("running", "trail"): Sport("TrailRun"),
    ("running", "treadmill"): Sport("Run", trainer=True),
    ("running", "indoor_running"): Sport("Run", trainer=True),
    ("running", "virtual_activity"): Sport("VirtualRun"),
    ("running", None): Sport("Run"),
    ("walking", "indoor_walking"): Sport("Walk", trainer=True),
    ("walking", "treadmill"): Sport("Walk", trainer=True),
    ("walking", None): Sport("Walk"),
    ("hiking", None): Sport("Hike"),
    ("training", "strength_training"): Sport("WeightTraining", trainer=True),
    ("training", None): Sport("Workout", trainer=True),
    ("fitness_equipment", "elliptical"): Sport("Elliptical", trainer=True),
    ("fitness_equipment", None): Sport("Workout", trainer=True),
    ("cycling", "virtual_activity"): Sport("VirtualRide", trainer=True),
    ("cycling", "indoor_cycling"): Sport("Ride", trainer=True),
    ("cycling", None): Sport("Ride"),
    ("swimming", None): Sport("Swim"),
    ("yoga", None): Sport("Yoga", trainer=True),
}


def from_fit(sport: object, sub_sport: object) -> Sport:
    """FIT's sport and sub-sport; an unknown sport keeps its name in CamelCase."""
    sport_name = str(sport) if sport is not None else "running"
    sub_name = str(sub_sport) if sub_sport is not None else None
    found = _FIT.get((sport_name, sub_name)) or _FIT.get((sport_name, None))
    if found is not None:
        return found
    return Sport(_camel(sport_name.replace("_", " ")) or "Workout")


# GPX <type> is free text: Strava writes "running" (older files a number), Garmin
# "running" or "trail_running"; compared without case, spaces, "_" or "-".
_GPX: dict[str, Sport] = {
    "9": Sport("Run"),
    "run": Sport("Run"),
    "running": Sport("Run"),
    "streetrunning": Sport("Run"),
    "trailrun": Sport("TrailRun"),
    "trailrunning": Sport("TrailRun"),
    "treadmill": Sport("Run", trainer=True),
    "treadmillrunning": Sport("Run", trainer=True),
    "indoorrunning": Sport("Run", trainer=True),
    "virtualrun": Sport("VirtualRun"),
    "10": Sport("Walk"),
    "walk": Sport("Walk"),
    "walking": Sport("Walk"),
    "4": Sport("Hike"),
    "hike": Sport("Hike"),
    "hiking": Sport("Hike"),
    "1": Sport("Ride"),
    "ride": Sport("Ride"),
    "cycling": Sport("Ride"),
    "biking": Sport("Ride"),
}


def from_gpx(track_type: str | None) -> Sport:
    """A GPX track's <type>; none at all is read as a run (runners upload runs)."""
    if not track_type or not track_type.strip():
        return Sport("Run")
    key = "".join(ch for ch in track_type.lower() if ch.isalnum())
    return _GPX.get(key) or Sport(_camel(track_type) or "Run")


_TCX = {"running": Sport("Run"), "biking": Sport("Ride"), "other": Sport("Workout")}


def from_tcx(sport: str | None) -> Sport:
    """TCX knows only Running, Biking and Other."""
    return _TCX.get((sport or "running").strip().lower(), Sport("Run"))


def from_export(activity_type: str) -> str:
    """The export CSV's "Activity Type" ("Trail Run", "Weight Training", "E-Bike Ride") as
    Strava's sport type ("TrailRun", "WeightTraining", "EBikeRide")."""
    return _camel(activity_type)


def _camel(text: str) -> str:
    words = text.replace("-", " ").replace("_", " ").split()
    return "".join(word[:1].upper() + word[1:] for word in words)
