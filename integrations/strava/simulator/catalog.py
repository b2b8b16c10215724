"""The athletes, activities and gear the simulator serves, indexed for Strava's list queries.

Activities are kept in start order per athlete, so `before`/`after` filters are two binary
searches. Stored dicts are never mutated in place (an update stores a new dict), so a response
can be serialised outside the simulator's lock while another thread edits the catalog.
Not thread-safe on its own: the simulator calls it under its lock.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Activity = dict[str, Any]

SUMMARY_ATHLETE_FIELDS = (
    "id", "username", "resource_state", "firstname", "lastname", "bio", "city", "state",
    "country", "sex", "premium", "summit", "created_at", "updated_at", "badge_type_id",
    "weight", "profile_medium", "profile", "friend", "follower",
)  # fmt: skip


def start_epoch(activity: Activity) -> float:
    return datetime.fromisoformat(str(activity["start_date"])).timestamp()


def is_private(activity: Activity) -> bool:
    """Private as Strava means it: flagged private, or visible only to the athlete."""
    return activity.get("private") is True or activity.get("visibility") == "only_me"


@dataclass
class AthleteRecord:
    profile: dict[str, Any]
    gear: dict[str, dict[str, Any]]
    starts: list[float] = field(default_factory=list)  # ascending, parallel to `activities`
    activities: list[Activity] = field(default_factory=list)

    def insert(self, activity: Activity) -> None:
        start = start_epoch(activity)
        at = bisect.bisect_right(self.starts, start)
        self.starts.insert(at, start)
        self.activities.insert(at, activity)

    def remove(self, activity_id: int) -> Activity | None:
        for i, activity in enumerate(self.activities):
            if activity["id"] == activity_id:
                del self.starts[i]
                return self.activities.pop(i)
        return None


class Catalog:
    def __init__(self, seed: list[dict[str, Any]]) -> None:
        self.athletes: dict[int, AthleteRecord] = {}
        self.owner_of: dict[int, int] = {}
        self.gear_owner: dict[str, int] = {}
        for entry in seed:
            profile = dict(entry["athlete"])
            athlete_id = int(profile["id"])
            gear = {str(g["id"]): dict(g) for g in entry.get("gear", [])}
            self.athletes[athlete_id] = AthleteRecord(profile, gear)
            for gear_id in gear:
                self.gear_owner[gear_id] = athlete_id
            for activity in entry.get("activities", []):
                self.add(athlete_id, activity)

    def add(self, athlete_id: int, activity: Activity) -> Activity:
        if athlete_id not in self.athletes:
            raise KeyError(f"no athlete {athlete_id} in the simulator's seed")
        if int(activity["id"]) in self.owner_of:
            raise ValueError(f"activity {activity['id']} already exists")
        stored = dict(activity)
        stored["athlete"] = {"id": athlete_id, "resource_state": 1}
        self.athletes[athlete_id].insert(stored)
        self.owner_of[int(stored["id"])] = athlete_id
        return stored

    def replace(self, activity_id: int, changes: dict[str, Any]) -> tuple[Activity, Activity]:
        """Apply `changes`; returns (before, after). Raises KeyError for an unknown activity."""
        athlete = self.athletes[self.owner_of[activity_id]]
        before = athlete.remove(activity_id)
        if before is None:
            raise KeyError(activity_id)
        after = {**before, **changes}
        athlete.insert(after)
        return before, after

    def delete(self, activity_id: int) -> Activity:
        athlete_id = self.owner_of.pop(activity_id)
        removed = self.athletes[athlete_id].remove(activity_id)
        assert removed is not None
        return removed

    def find(self, activity_id: int) -> tuple[int, Activity] | None:
        athlete_id = self.owner_of.get(activity_id)
        if athlete_id is None:
            return None
        for activity in self.athletes[athlete_id].activities:
            if activity["id"] == activity_id:
                return athlete_id, activity
        return None

    def page(
        self,
        athlete_id: int,
        *,
        before: float | None,
        after: float | None,
        page: int,
        per_page: int,
        include_private: bool,
    ) -> list[Activity]:
        """Newest first; `before`/`after` are exclusive bounds on start_date (epoch seconds)."""
        athlete = self.athletes[athlete_id]
        lo = 0 if after is None else bisect.bisect_right(athlete.starts, after)
        hi = len(athlete.starts) if before is None else bisect.bisect_left(athlete.starts, before)
        window = athlete.activities[lo:hi]
        if not include_private:
            window = [a for a in window if not is_private(a)]
        window.reverse()
        first = (page - 1) * per_page
        return window[first : first + per_page]

    def gear(self, gear_id: str) -> tuple[int, dict[str, Any]] | None:
        athlete_id = self.gear_owner.get(gear_id)
        if athlete_id is None:
            return None
        return athlete_id, self.athletes[athlete_id].gear[gear_id]

    def summary_athlete(self, athlete_id: int) -> dict[str, Any]:
        profile = self.athletes[athlete_id].profile
        summary = {k: profile[k] for k in SUMMARY_ATHLETE_FIELDS if k in profile}
        summary["resource_state"] = 2
        return summary

    def detailed_athlete(self, athlete_id: int) -> dict[str, Any]:
        athlete = self.athletes[athlete_id]
        detailed = {**athlete.profile, "resource_state": 3}
        summaries = [_gear_summary(g) for g in athlete.gear.values()]
        detailed["shoes"] = [g for g in summaries if str(g["id"]).startswith("g")]
        detailed["bikes"] = [g for g in summaries if str(g["id"]).startswith("b")]
        return detailed


def _gear_summary(gear: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gear["id"],
        "primary": gear.get("primary", False),
        "name": gear.get("name", ""),
        "resource_state": 2,
        "distance": gear.get("distance", 0),
    }
