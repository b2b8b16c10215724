"""Seed files: `[{"athlete": {...}, "activities": [...], "gear": [...]}]` in Strava's format.

Loading checks what the simulator relies on and says exactly where a file is wrong, since
hand-edited seed files are how people build their own scenarios.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


class SeedError(ValueError):
    """A seed file that cannot be served; the message names the file and the place."""


def load_seed(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SeedError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise SeedError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    check_seed(entries, str(path))
    return list(entries)


def check_seed(entries: Any, source: str = "seed") -> None:
    if not isinstance(entries, list) or not entries:
        raise SeedError(f"{source}: expected a non-empty JSON list of athlete entries")
    seen: set[int] = set()
    for i, entry in enumerate(entries):
        where = f"{source}: entry [{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("athlete"), dict):
            raise SeedError(f'{where}: expected {{"athlete": {{...}}, "activities": [...]}}')
        athlete_id = entry["athlete"].get("id")
        if not isinstance(athlete_id, int) or isinstance(athlete_id, bool):
            raise SeedError(f"{where}: athlete.id must be an integer")
        where = f"{source}: athlete {athlete_id}"
        for j, activity in enumerate(entry.get("activities", [])):
            _check_activity(activity, f"{where}: activities[{j}]", seen)
        for j, gear in enumerate(entry.get("gear", [])):
            if not isinstance(gear, dict) or not isinstance(gear.get("id"), str):
                raise SeedError(f'{where}: gear[{j}]: "id" must be a string like "g123"')


def _check_activity(activity: Any, where: str, seen: set[int]) -> None:
    if not isinstance(activity, dict):
        raise SeedError(f"{where}: expected a SummaryActivity object")
    activity_id = activity.get("id")
    if not isinstance(activity_id, int) or isinstance(activity_id, bool):
        raise SeedError(f"{where}: id must be an integer")
    if activity_id in seen:
        raise SeedError(f"{where}: id {activity_id} appears twice")
    seen.add(activity_id)
    for name in ("start_date", "start_date_local"):
        value = activity.get(name)
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            raise SeedError(
                f"{where} (id {activity_id}): {name} {value!r} is not an ISO time "
                'like "2025-10-19T16:00:00Z"'
            ) from None
    if not isinstance(activity.get("sport_type"), str):
        raise SeedError(f"{where} (id {activity_id}): sport_type must be a string such as Run")


def write_seed(entries: list[dict[str, Any]], path: Path) -> None:
    check_seed(entries, str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
