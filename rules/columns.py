"""Activities as columns: one numpy array per field, for one athlete or ten thousand.

The metrics are computed from these arrays in bulk, so each activity is read from its Python
object exactly once. The backtest and the benchmark can build the columns straight from
database tuples or generated arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from strideguard.rules.activities import ActivityLike

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class ActivityTypes:
    """Which sport types count as what (RULES.md conventions; configurable in rules.yaml)."""

    running: frozenset[str]
    strength: frozenset[str]
    strength_min_moving_time_s: int
    hard_surface_excludes_manual: bool


@dataclass(frozen=True)
class ActivityColumns:
    """Parallel arrays, one entry per activity. `athlete` indexes the caller's athlete list.

    `local_s` is the local wall clock in seconds from 0001-01-01 00:00 (proleptic ordinal
    days × 86400), so `local_s // 86400` is the local date's ordinal.
    """

    n_athletes: int
    athlete: IntArray
    activity_id: IntArray
    local_s: IntArray
    sport: IntArray
    sport_names: tuple[str, ...]
    distance_m: IntArray
    moving_time_s: IntArray
    gain_dm: IntArray
    trainer: BoolArray
    manual: BoolArray
    gear: IntArray
    gear_ids: tuple[str | None, ...]

    @classmethod
    def from_athletes(cls, histories: Sequence[Iterable[ActivityLike]]) -> ActivityColumns:
        """Columns for `histories[i]` = the activities of athlete i."""
        sports: dict[str, int] = {}
        gears: dict[str | None, int] = {None: 0}
        rows: list[tuple[int, int, int, int, int, int, int, bool, bool, int]] = []
        for index, activities in enumerate(histories):
            for act in activities:
                local = act.start_date_local
                seconds = (
                    local.toordinal() * SECONDS_PER_DAY
                    + local.hour * 3600
                    + local.minute * 60
                    + local.second
                )
                rows.append(
                    (
                        index,
                        act.activity_id,
                        seconds,
                        sports.setdefault(act.sport_type, len(sports)),
                        act.distance_m,
                        act.moving_time_s,
                        act.elevation_gain_dm,
                        act.trainer,
                        act.manual,
                        gears.setdefault(act.gear_id, len(gears)),
                    )
                )
        table = np.array(rows, dtype=np.int64).reshape(len(rows), 10)
        return cls(
            n_athletes=len(histories),
            athlete=table[:, 0].copy(),
            activity_id=table[:, 1].copy(),
            local_s=table[:, 2].copy(),
            sport=table[:, 3].copy(),
            sport_names=tuple(sports),
            distance_m=table[:, 4].copy(),
            moving_time_s=table[:, 5].copy(),
            gain_dm=table[:, 6].copy(),
            trainer=table[:, 7].astype(bool),
            manual=table[:, 8].astype(bool),
            gear=table[:, 9] - 1,
            gear_ids=tuple(g for g in gears if g is not None),
        )

    def select(
        self, rows: IntArray | BoolArray, athlete: IntArray, n_athletes: int
    ) -> ActivityColumns:
        """The activities at `rows`, with their athletes renumbered as `athlete`."""
        return ActivityColumns(
            n_athletes=n_athletes,
            athlete=athlete,
            activity_id=self.activity_id[rows],
            local_s=self.local_s[rows],
            sport=self.sport[rows],
            sport_names=self.sport_names,
            distance_m=self.distance_m[rows],
            moving_time_s=self.moving_time_s[rows],
            gain_dm=self.gain_dm[rows],
            trainer=self.trainer[rows],
            manual=self.manual[rows],
            gear=self.gear[rows],
            gear_ids=self.gear_ids,
        )

    def of_sport(self, names: Iterable[str]) -> BoolArray:
        codes = [i for i, name in enumerate(self.sport_names) if name in set(names)]
        return np.isin(self.sport, codes)
