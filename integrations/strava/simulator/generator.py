"""Realistic Strava training histories in Strava's own SummaryActivity format.

A history is a list of weekly plans (which sessions on which days) rendered into activity
dicts with everything Strava sends: both start dates (the local one with Strava's misleading
trailing Z), the zone label and offset, a map with a summary polyline and start_latlng (which
the app must drop), gear, heart rate and the rest. `scenario="demo"` plants known risky weeks
(see `demo_plan`) so the demo shows every rule firing, and one quiet week; `"all-rules"`
(see `all_rules_plan`) adds a final week that fires every enabled training rule at once, in
a worn old pair of shoes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from strideguard.integrations.strava.simulator.places import (
    PLACES,
    WATOPIA,
    Place,
    encode_polyline,
    loop_route,
    place_for,
    strava_timezone,
)

DEMO_WEEKS = 16
SCENARIOS = ("demo", "all-rules")
OLD_SHOE_KM = 790  # the all-rules scenario's old pair: past 800 km only after its last week


@dataclass(frozen=True)
class Session:
    """One planned activity: `day` 0 = Monday of its week."""

    day: int
    kind: str  # easy | workout | long | race | trail | treadmill | virtual | strength
    km: float = 0.0
    gain_per_km: float = 0.0
    minutes: int = 0
    slot: str = "morning"  # morning | lunch | evening
    private: bool = False
    manual: bool = False  # typed in by hand: no device, no GPS, no heart rate
    old_shoe: bool = False  # run in the worn old pair (all-rules scenario only)


@dataclass(frozen=True)
class Profile:
    base_km: float
    runs: int
    hilly: float  # multiplies everyday elevation


PROFILES = {
    "casual": Profile(22.0, 3, 0.8),
    "balanced": Profile(38.0, 4, 1.0),
    "marathon": Profile(65.0, 6, 1.1),
    "mountain": Profile(45.0, 5, 2.2),
}

# kind -> (sport_type, legacy type, trainer, workout_type, pace s/km low..high)
KINDS: dict[str, tuple[str, str, bool, int | None, tuple[int, int]]] = {
    "easy": ("Run", "Run", False, 0, (320, 380)),
    "workout": ("Run", "Run", False, 3, (285, 320)),
    "long": ("Run", "Run", False, 2, (335, 385)),
    "race": ("Run", "Run", False, 1, (255, 290)),
    "trail": ("TrailRun", "Run", False, None, (390, 480)),
    "treadmill": ("Run", "Run", True, 0, (315, 345)),
    "virtual": ("VirtualRun", "VirtualRun", False, None, (300, 340)),
    "strength": ("WeightTraining", "WeightTraining", True, 30, (0, 0)),
}
SHOES = (
    ("Nike", "Pegasus 41"),
    ("ASICS", "Novablast 5"),
    ("Brooks", "Ghost 16"),
    ("Saucony", "Endorphin Speed 4"),
    ("Adidas", "Adizero SL2"),
)
TRAIL_SHOES = (("Hoka", "Speedgoat 6"), ("Salomon", "Speedcross 6"), ("Altra", "Lone Peak 8"))
FIRST_NAMES = (
    "Ingrid",
    "Marcus",
    "Aiko",
    "Lucas",
    "Priya",
    "Sofia",
    "Tom",
    "Amara",
    "Jonas",
    "Mei",
)
LAST_NAMES = ("Haugen", "Rivera", "Tanaka", "Silva", "Patel", "Okafor", "Berg", "Nguyen", "Kim")


def generate_history(
    athlete_id: int,
    weeks: int = DEMO_WEEKS,
    *,
    tz: str = "Europe/Oslo",
    seed: int | None = None,
    end: date | None = None,
    profile: str = "balanced",
    scenario: str | None = None,
    routes: bool = True,
) -> dict[str, Any]:
    """One seed-file entry: {"athlete": .., "activities": [..], "gear": [..]}.

    `routes=False` leaves out the GPS loops (map, start and end points), which take most of
    the time and which a backtest never reads; the same seed then gives other runners.

    The history covers `weeks` ISO weeks (Monday to Sunday in `tz`); the last is the week
    containing `end` (default: last Sunday), and nothing starts after `end`. Pass a Sunday
    for whole weeks. `scenario="demo"` needs weeks >= 16 and plants its patterns in the last
    16 (see `demo_plan`).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    if scenario is not None and scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if scenario is not None and weeks < DEMO_WEEKS:
        raise ValueError(f"the {scenario} scenario needs at least {DEMO_WEEKS} weeks, got {weeks}")
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    rng = random.Random(athlete_id if seed is None else seed)  # noqa: S311 - not secrets
    end = end or _last_sunday(date.today())
    place = place_for(tz)
    chosen = PROFILES[profile]
    first_monday = end - timedelta(days=end.weekday()) - timedelta(weeks=weeks - 1)
    plans = [_random_week(rng, chosen, i) for i in range(weeks)]
    if scenario == "demo":
        plans[-DEMO_WEEKS:] = demo_plan()
    elif scenario == "all-rules":
        plans[-DEMO_WEEKS:] = all_rules_plan()
    gear = _gear(athlete_id, rng, worn_km=(20, 120) if scenario else (20, 300))
    if scenario == "all-rules":
        gear.append(_old_pair(athlete_id))
    activities: list[dict[str, Any]] = []
    for week, plan in enumerate(plans):
        monday = first_monday + timedelta(weeks=week)
        for session in sorted(plan, key=lambda s: (s.day, _SLOTS.index(s.slot))):
            day = monday + timedelta(days=session.day)
            if day > end:
                continue
            seq = len(activities)
            activities.append(
                _activity(athlete_id, seq, day, session, place, gear, chosen, rng, routes)
            )
    for shoe in gear:
        shoe["distance"] = int(shoe["distance"])
        shoe["converted_distance"] = round(shoe["distance"] / 1000, 1)
    activities.sort(key=lambda a: str(a["start_date"]), reverse=True)  # newest first, as Strava
    return {"athlete": _athlete(athlete_id, place, rng), "activities": activities, "gear": gear}


def generate_seed(
    athletes: int,
    weeks: int,
    *,
    seed: int = 0,
    end: date | None = None,
    first_athlete_id: int = 100_001,
    scenario: str | None = None,
    progress: Callable[[int], None] | None = None,
    routes: bool = True,
) -> list[dict[str, Any]]:
    """Histories for `athletes` runners spread over zones east and west of UTC.

    `progress(done)` is called after each runner, for a progress bar on large populations.
    """
    rng = random.Random(seed)  # noqa: S311 - simulated training, not secrets
    entries = []
    for i in range(athletes):
        place = PLACES[i % len(PLACES)]
        entries.append(
            generate_history(
                first_athlete_id + i,
                weeks,
                tz=place.tz,
                seed=rng.randrange(2**32),
                end=end,
                profile=rng.choice(("casual", "balanced", "balanced", "marathon", "mountain")),
                scenario=scenario,
                routes=routes,
            )
        )
        if progress:
            progress(i + 1)
    return entries


# --------------------------------------------------------------------------- plans


def _normal_week(*, first: bool = False, double_strength: bool = False) -> list[Session]:
    """The demo's quiet week: 43 km, 2 rest days, 2 strength days, hills 9.4 m/km outdoor.

    The first week opens with its long run, so no later run is a jump over the longest so far.
    """
    week = [
        Session(0, "strength", minutes=40, slot="evening"),
        Session(1, "long" if first else "workout", 14.0 if first else 8.0, 6.0),
        Session(2, "easy", 7.0, 6.0),
        Session(3, "treadmill", 6.0, slot="morning"),
        Session(3, "strength", minutes=35, slot="evening"),
        Session(5, "trail", 8.0, 20.0),
        Session(6, "long", 14.0, 7.0),
    ]
    if double_strength:
        week.append(Session(3, "strength", minutes=30, slot="lunch"))
    return week


def demo_plan() -> list[list[Session]]:
    """16 weeks, oldest first. Index: what it plants (rules as RULES.md defines them).

    - 0-4, 6-8, 10: quiet weeks (43 km); 5 and 15 are quiet weeks with two strength sessions
      on one day (still 2 strength days), and nothing fires in them.
    - 9: weekly distance spike, 60 km vs a 43 km four-week mean (+39.5%); no run is more than
      10% longer than the longest of the previous 30 days (15 vs 14 km).
    - 11: hill-heavy week, 38 km outdoor with 942 m of gain (24.8 m/km).
    - 12 and 14: no strength sessions at all.
    - 13: hard-surface streak, outdoor road runs Monday to Saturday (6 days, 7 counting the
      Sunday long run of week 12), Sunday off.
    """
    spike = [
        Session(0, "strength", minutes=40, slot="evening"),
        Session(1, "workout", 11.0, 6.0),
        Session(2, "easy", 11.0, 6.0),
        Session(3, "treadmill", 11.0),
        Session(3, "strength", minutes=35, slot="evening"),
        Session(5, "trail", 12.0, 20.0),
        Session(6, "long", 15.0, 7.0),
    ]
    hills = [
        Session(0, "strength", minutes=40, slot="evening"),
        Session(1, "trail", 9.0, 30.0),
        Session(2, "easy", 7.0, 6.0),
        Session(3, "treadmill", 6.0),
        Session(3, "strength", minutes=35, slot="evening"),
        Session(5, "trail", 8.0, 35.0),
        Session(6, "trail", 14.0, 25.0),
    ]
    streak = [
        Session(0, "easy", 6.0, 6.0),
        Session(0, "strength", minutes=40, slot="evening"),
        Session(1, "workout", 7.0, 6.0),
        Session(2, "easy", 6.0, 6.0),
        Session(3, "easy", 7.0, 6.0),
        Session(3, "strength", minutes=35, slot="evening"),
        Session(4, "easy", 6.0, 6.0),
        Session(5, "long", 12.0, 7.0),
    ]
    plan = [_normal_week(first=i == 0, double_strength=i in (5, 15)) for i in range(DEMO_WEEKS)]
    plan[9] = spike
    plan[11] = hills
    plan[12] = [s for s in _normal_week() if s.kind != "strength"]
    plan[13] = streak
    plan[14] = [s for s in _normal_week() if s.kind != "strength"]
    return plan


def all_rules_plan() -> list[list[Session]]:
    """The demo's 16 weeks with a last week that trips every enabled training rule at once.

    Week 15: a road run every day (no rest day; a hard-surface streak of 8 days with week 14's
    Sunday run), no strength session, 60 km against a 43 km four-week mean (+39%), and a 20 km
    Sunday run against a 14 km longest in 30 days (+43%, the moderate band), all in an old
    pair that passes 800 km during the week. The back-pain rules fire on the runner's
    check-ins, which the demo answers (see strideguard.demo.ALL_RULES_CHECKINS).
    """
    plan = demo_plan()
    plan[15] = [
        Session(day, "long" if day == 6 else "easy", km, 6.0, old_shoe=True)
        for day, km in enumerate((6.0, 7.0, 6.0, 7.0, 6.0, 8.0, 20.0))
    ]
    return plan


def _old_pair(athlete_id: int) -> dict[str, Any]:
    return {
        "id": f"g{athlete_id}9",
        "primary": False,
        "name": "Nike Pegasus 38 (old pair)",
        "nickname": "",
        "resource_state": 3,
        "retired": False,
        "distance": float(OLD_SHOE_KM * 1000),
        "converted_distance": 0.0,
        "brand_name": "Nike",
        "model_name": "Pegasus 38",
        "description": "",
        "notification_distance": 0,
    }


def _random_week(rng: random.Random, profile: Profile, index: int) -> list[Session]:
    target = profile.base_km * rng.uniform(0.85, 1.12)
    if index % 4 == 3:
        target *= 0.75  # a lighter week every fourth week
    if rng.random() < 0.05:
        target *= 1.4  # the occasional jump
    runs = max(2, min(7, profile.runs + rng.choice((-1, 0, 0, 1))))
    long_day = rng.choice((5, 6, 6))
    other_days = rng.sample([d for d in range(7) if d != long_day], runs - 1)
    sessions = [
        Session(long_day, "long", round(target * 0.32, 1), rng.uniform(4, 12) * profile.hilly)
    ]
    share = target * 0.68 / max(1, runs - 1)
    for n, day in enumerate(sorted(other_days)):
        kind = "workout" if n == 0 and runs >= 3 else "easy"
        roll = rng.random()
        if roll < 0.25:
            kind = "trail"
        elif roll < 0.38:
            kind = "treadmill"
        elif roll < 0.42:
            kind = "virtual"
        elif roll < 0.44:
            kind = "race"
        gain = {
            "trail": rng.uniform(18, 45),
            "treadmill": 0.0,
            "virtual": rng.uniform(4, 14),
        }.get(kind, rng.uniform(2, 10) * profile.hilly)
        km = 10.0 if kind == "race" else round(share * rng.uniform(0.8, 1.2), 1)
        slot = rng.choice(("morning", "morning", "lunch", "evening"))
        manual = kind == "easy" and rng.random() < 0.03
        private = rng.random() < 0.02
        sessions.append(Session(day, kind, km, gain, slot=slot, private=private, manual=manual))
    strength_days = rng.sample(range(7), rng.choice((0, 1, 2, 2, 2, 3)))
    for day in strength_days:
        private = rng.random() < 0.15
        sessions.append(
            Session(
                day, "strength", minutes=rng.randrange(25, 65, 5), slot="evening", private=private
            )
        )
        if rng.random() < 0.12:  # a second session the same day
            sessions.append(Session(day, "strength", minutes=20, slot="lunch"))
    return sessions


# --------------------------------------------------------------------------- rendering

_SLOTS = ("morning", "lunch", "evening")
_SLOT_START = {"morning": (6 * 60, 7 * 60 + 45), "lunch": (11 * 60 + 45, 12 * 60 + 30),
               "evening": (17 * 60 + 15, 19 * 60 + 30)}  # fmt: skip
_LABEL = {"Run": "Run", "TrailRun": "Trail Run", "VirtualRun": "Virtual Run",
          "WeightTraining": "Weight Training"}  # fmt: skip


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _part_of_day(minute: int) -> str:
    hour = minute // 60
    if hour < 12:
        return "Morning"
    if hour < 14:
        return "Lunch"
    if hour < 17:
        return "Afternoon"
    return "Evening"


def _activity(
    athlete_id: int,
    seq: int,
    day: date,
    session: Session,
    place: Place,
    gear: list[dict[str, Any]],
    profile: Profile,
    rng: random.Random,
    routes: bool = True,
) -> dict[str, Any]:
    sport_type, legacy, trainer, workout_type, pace = KINDS[session.kind]
    low, high = (8 * 60, 10 * 60) if session.kind in ("long", "race") else _SLOT_START[session.slot]
    minute = rng.randrange(low, high)
    local = datetime.combine(day, time(minute // 60, minute % 60, rng.randrange(60)))
    label, start_utc, offset = strava_timezone(local, place.tz)
    activity_id = 10_000_000_000 + athlete_id * 100_000 + seq
    strength = session.kind == "strength"
    manual = session.manual or (strength and rng.random() < 0.3)
    distance = round(session.km * 1000 * rng.uniform(0.995, 1.005), 1) if session.km else 0.0
    moving = session.minutes * 60 if strength else round(distance * rng.uniform(*pace) / 1000)
    elapsed = moving + (0 if manual else rng.randrange(5, 240 if session.kind != "long" else 600))
    gain = 0.0 if trainer or manual else round(distance / 1000 * session.gain_per_km, 1)
    outdoor = not trainer and not strength and not manual
    if session.kind == "virtual":
        origin = WATOPIA
    else:
        origin = (place.lat + rng.uniform(-0.02, 0.02), place.lon + rng.uniform(-0.02, 0.02))
    route = loop_route(origin[0], origin[1], distance, rng) if outdoor and routes else []
    has_hr = not manual
    speed = round(distance / moving, 3) if distance and moving else 0.0
    name = f"{_part_of_day(minute)} {_LABEL[sport_type]}"
    if session.kind == "workout":
        name = rng.choice(("6 x 800 m", "Tempo 3 x 10 min", "Hill repeats", "Fartlek"))
    elif session.kind == "race":
        name = "Parkrun 10K" if distance < 11000 else "Half marathon"
    elif session.kind == "treadmill":
        name = "Treadmill"
    shoe = gear[-1] if session.old_shoe else _shoe_for(session.kind, gear, rng)
    if shoe is not None:
        shoe["distance"] += distance
    upload_id = None if manual else 10_000_000_000 + athlete_id * 10_000 + seq
    activity: dict[str, Any] = {
        "resource_state": 2,
        "athlete": {"id": athlete_id, "resource_state": 1},
        "name": name,
        "distance": distance,
        "moving_time": moving,
        "elapsed_time": elapsed,
        "total_elevation_gain": gain,
        "type": legacy,
        "sport_type": sport_type,
        "workout_type": workout_type,
        "id": activity_id,
        "start_date": _stamp(start_utc),
        "start_date_local": _stamp(local),  # local wall time with Strava's misleading Z
        "timezone": label,
        "utc_offset": offset,
        "location_city": None,
        "location_state": None,
        "location_country": place.country or None,
        "achievement_count": rng.randrange(0, 4) if outdoor else 0,
        "kudos_count": rng.randrange(0, 25),
        "comment_count": rng.randrange(0, 3),
        "athlete_count": 1,
        "photo_count": 0,
        "map": {
            "id": f"a{activity_id}",
            "summary_polyline": encode_polyline(route) if route else "",
            "resource_state": 2,
        },
        "trainer": trainer and not manual,
        "commute": False,
        "manual": manual,
        "private": session.private,
        "visibility": "only_me" if session.private else "everyone",
        "flagged": False,
        "gear_id": None if shoe is None else shoe["id"],
        "start_latlng": list(map(_round6, route[0])) if route else [],
        "end_latlng": list(map(_round6, route[-1])) if route else [],
        "average_speed": speed,
        "max_speed": round(speed * rng.uniform(1.25, 1.8), 3),
        "has_heartrate": has_hr,
        "heartrate_opt_out": False,
        "display_hide_heartrate_option": has_hr,
        "upload_id": upload_id,
        "external_id": None if upload_id is None else f"garmin_ping_{upload_id}",
        "from_accepted_tag": False,
        "pr_count": rng.randrange(0, 2) if outdoor else 0,
        "total_photo_count": 0,
        "has_kudoed": False,
    }
    if upload_id is not None:
        activity["upload_id_str"] = str(upload_id)
    if outdoor:  # Strava leaves the elevation range out for indoor and manual entries
        low_m = rng.uniform(0, 120)
        activity["elev_high"] = round(low_m + gain / 3 + 5, 1)
        activity["elev_low"] = round(low_m, 1)
    if distance:
        activity["average_cadence"] = round(rng.uniform(79, 90), 1)
    if has_hr:
        activity["average_heartrate"] = round(rng.uniform(128, 162), 1)
        activity["max_heartrate"] = float(rng.randrange(165, 190))
        activity["suffer_score"] = float(max(1, moving // 60 - rng.randrange(0, 20)))
    return activity


def _round6(value: float) -> float:
    return round(value, 6)


def _shoe_for(kind: str, gear: list[dict[str, Any]], rng: random.Random) -> dict[str, Any] | None:
    if kind == "strength":
        return None
    if kind == "trail":
        return gear[2]
    return gear[0] if rng.random() < 0.7 else gear[1]


def _gear(athlete_id: int, rng: random.Random, worn_km: tuple[int, int]) -> list[dict[str, Any]]:
    road = rng.sample(SHOES, 2)
    trail = rng.choice(TRAIL_SHOES)
    shoes = []
    for n, (brand, model) in enumerate([*road, trail]):
        shoes.append(
            {
                "id": f"g{athlete_id}{n + 1}",
                "primary": n == 0,
                "name": f"{brand} {model}",
                "nickname": "",
                "resource_state": 3,
                "retired": False,
                # kilometres run before the history starts; the demo's stay well under 800 km
                "distance": float(rng.randrange(*worn_km) * 1000),
                "converted_distance": 0.0,
                "brand_name": brand,
                "model_name": model,
                "description": "",
                "notification_distance": 0,
            }
        )
    return shoes


def _athlete(athlete_id: int, place: Place, rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created = datetime(2019, 1, 1) + timedelta(days=rng.randrange(0, 1800))
    return {
        "id": athlete_id,
        "username": f"{first}{last}{athlete_id}".lower(),
        "resource_state": 3,
        "firstname": first,
        "lastname": last,
        "bio": "",
        "city": place.city,
        "state": place.state,
        "country": place.country,
        "sex": rng.choice(("F", "M")),
        "premium": rng.random() < 0.4,
        "summit": rng.random() < 0.4,
        "created_at": _stamp(created),
        "updated_at": _stamp(created + timedelta(days=400)),
        "badge_type_id": 0,
        "weight": round(rng.uniform(52, 85), 1),
        "profile_medium": "avatar/athlete/medium.png",
        "profile": "avatar/athlete/large.png",
        "friend": None,
        "follower": None,
        "follower_count": rng.randrange(0, 300),
        "friend_count": rng.randrange(0, 300),
        "mutual_friend_count": 0,
        "athlete_type": 1,
        "date_preference": "%m/%d/%Y" if place.imperial else "%d/%m/%Y",
        "measurement_preference": "feet" if place.imperial else "meters",
        "clubs": [],
        "ftp": None,
    }


def _last_sunday(today: date) -> date:
    return today - timedelta(days=(today.weekday() + 1) % 7)
