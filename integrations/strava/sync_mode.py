"""Which webhook sync mode is in force right now, and why, for the admin page.

`STRAVA_WEBHOOK_SYNC=auto` fetches each new run at once while the day's budget has reads left
beyond those held for due evaluations (the same test `cap_for` applies to a per-run fetch),
and otherwise behaves as `deferred` until the UTC day turns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from strideguard.integrations.strava.budget import Limits, Reservation, Usage, caps
from strideguard.worker.ports import Priority


@dataclass(frozen=True)
class SyncModeInForce:
    setting: str
    mode: Literal["immediate", "deferred"]
    reason: str


def sync_mode_in_force(
    setting: str, usage: Usage, limits: Limits, held: Reservation, share: float
) -> SyncModeInForce:
    if setting == "deferred":
        return SyncModeInForce(
            setting, "deferred", "set to deferred: new runs wait for the next window refresh"
        )
    if setting == "immediate":
        return SyncModeInForce(setting, "immediate", "set to immediate: every new run is read")
    cap = caps(limits, share, Priority.RUN, held)
    free = min(cap.read_day - usage.read_day, cap.all_day - usage.all_day)
    if free > 0:
        return SyncModeInForce(
            setting,
            "immediate",
            f"auto: {free} of today's reads are free beyond the {held.evaluations_day} held "
            "for due evaluations, so each new run is read at once",
        )
    return SyncModeInForce(
        setting,
        "deferred",
        f"auto: today's remaining reads are held for {held.evaluations_day} due evaluations, "
        "so new runs wait for the next window refresh until midnight UTC",
    )
