"""The metric catalog: daily and weekly training figures, computed once per cohort of athletes.

A `Cohort` lays every athlete's activities on one calendar of local days (Monday-aligned), so
each metric is an array of shape (athletes, weeks) for weekly rules, or one entry per run for
per-run rules. Metrics are computed on first use and cached, so rules share them and disabled
rules cost nothing.

Conventions (RULES.md): days and weeks are local (`start_date_local`); distances are integer
metres; weeks before an athlete's first activity are unknown (not zero) and reported as
insufficient history, while empty weeks after it are real 0-km weeks. An activity without
distance that is not a strength session carries no training signal: it neither opens the
observed period nor changes any figure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from strideguard.rules.activities import GearLike
from strideguard.rules.columns import (
    SECONDS_PER_DAY,
    ActivityColumns,
    ActivityTypes,
    BoolArray,
    IntArray,
)
from strideguard.rules.expressions import FunctionSpec, ValueType

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MetricSpec:
    type: ValueType
    doc: str
    compute: Callable[[Cohort], Any]
    needs_gear: bool = False


WEEK_METRICS: dict[str, MetricSpec] = {}
RUN_METRICS: dict[str, MetricSpec] = {}

WEEK_FUNCTIONS: dict[str, FunctionSpec] = {
    "prior_sum": FunctionSpec(
        ("series", "count"), "num", (1, 104), "sum of a weekly metric over the previous n weeks"
    ),
    "prior_mean": FunctionSpec(
        ("series", "count"),
        "num",
        (1, 104),
        "mean of a weekly metric over the observed weeks among the previous n",
    ),
    "prior_max": FunctionSpec(
        ("series", "count"), "num", (1, 104), "largest value of a weekly metric, previous n weeks"
    ),
    "known_weeks": FunctionSpec(
        ("count",), "num", (1, 104), "how many of the previous n weeks are observed"
    ),
    "ewma_daily_m": FunctionSpec(
        ("count",),
        "num",
        (1, 365),
        "EWMA of daily running metres at the week's Sunday, lambda = 2/(n+1)",
    ),
    "longest_run_before": FunctionSpec(
        ("count",),
        "num",
        (1, 365),
        "longest run on the n local days before this week's Monday (0 if none)",
    ),
    "min": FunctionSpec(("num", "num"), "num", doc="the smaller of two numbers"),
    "max": FunctionSpec(("num", "num"), "num", doc="the larger of two numbers"),
}
RUN_FUNCTIONS: dict[str, FunctionSpec] = {
    "longest_run_within": FunctionSpec(
        ("count",), "num", (1, 365), "longest run that started in the n days before this run"
    ),
    "min": WEEK_FUNCTIONS["min"],
    "max": WEEK_FUNCTIONS["max"],
}


def week_metric(
    name: str, value_type: ValueType, doc: str, *, needs_gear: bool = False
) -> Callable[[Callable[[Cohort], Any]], Callable[[Cohort], Any]]:
    def register(compute: Callable[[Cohort], Any]) -> Callable[[Cohort], Any]:
        WEEK_METRICS[name] = MetricSpec(value_type, doc, compute, needs_gear)
        return compute

    return register


def run_metric(
    name: str, value_type: ValueType, doc: str
) -> Callable[[Callable[[Cohort], Any]], Callable[[Cohort], Any]]:
    def register(compute: Callable[[Cohort], Any]) -> Callable[[Cohort], Any]:
        RUN_METRICS[name] = MetricSpec(value_type, doc, compute)
        return compute

    return register


def monday_ordinal(ordinal: Any) -> Any:
    """The Monday on or before a date ordinal (ordinal 1, 0001-01-01, was a Monday)."""
    return ordinal - (ordinal - 1) % 7


class Cohort:
    """Athletes' activities on one Monday-aligned local calendar, with cached metrics.

    `back_pain`, per athlete, maps a week's Monday to the runner's own 0-10 check-in answer
    for that week; weeks without an answer are undefined, never zero.

    `end_monday` is the last week evaluated; activities after it are ignored, so a week is
    judged only on what had happened by its end. `history_start` (a date) declares that the
    input is complete from that day on, so quiet weeks after it count as real zeros; a week
    that began before it is unknown even if some of its activities are present (a fetch window
    that opens mid-week would otherwise make that week look light).
    """

    def __init__(
        self,
        columns: ActivityColumns,
        types: ActivityTypes,
        *,
        end_monday: int | None = None,
        history_start: int | NDArray[np.int64] | None = None,
        gear: Sequence[Mapping[str, GearLike] | None] | None = None,
        back_pain: Sequence[Mapping[dt.date, int] | None] | None = None,
    ) -> None:
        self.types = types
        self.gear = gear
        self.back_pain = back_pain
        self.n_athletes = columns.n_athletes
        day = columns.local_s // SECONDS_PER_DAY
        running = columns.of_sport(types.running) & (columns.distance_m > 0)
        strength = columns.of_sport(types.strength) & (
            columns.moving_time_s >= types.strength_min_moving_time_s
        )
        signal = running | strength | (columns.distance_m > 0)

        no_start = np.iinfo(np.int64).max
        first = np.full(self.n_athletes, no_start, dtype=np.int64)
        np.minimum.at(first, columns.athlete[signal], monday_ordinal(day[signal]))
        if history_start is not None:
            # Complete only from `history_start`: a week that began before it is partly unseen,
            # so it is unknown (not a light week), whatever activities it shows. One date for
            # everyone, or one per athlete (0: that athlete's activities decide, as without).
            starts = np.broadcast_to(np.asarray(history_start, dtype=np.int64), first.shape)
            first = np.where(starts > 0, monday_ordinal(starts + 6), first)
        if end_monday is None:
            end_monday = int(monday_ordinal(day[signal]).max()) if signal.any() else None
        observed = first[first != no_start]
        if end_monday is None or observed.size == 0:
            end_monday = end_monday or monday_ordinal(dt.date.today().toordinal())
            self.day0 = int(end_monday)
        else:
            self.day0 = int(min(observed.min(), end_monday))
        self.n_weeks = (int(end_monday) - self.day0) // 7 + 1
        self.n_days = 7 * self.n_weeks
        self.first_week = np.where(first == no_start, self.n_weeks, (first - self.day0) // 7)
        self.first_day_s = np.where(
            first == no_start, 0, first * SECONDS_PER_DAY
        )  # observed start per athlete, in local seconds

        inside = (day >= self.day0) & (day < self.day0 + self.n_days)
        self.columns = columns
        self.day_index = day - self.day0
        self.is_running = running & inside
        self.is_strength = strength & inside
        treadmill = columns.trainer | columns.of_sport({"VirtualRun"})
        self.is_treadmill = self.is_running & treadmill
        self.is_outdoor = self.is_running & ~treadmill
        self.is_trail = self.is_running & columns.of_sport({"TrailRun"})
        hard = self.is_running & columns.of_sport({"Run"}) & ~columns.trainer
        self.is_hard_surface = (
            hard & ~columns.manual if types.hard_surface_excludes_manual else hard
        )
        self._cache: dict[str, Any] = {}
        self.week_index = np.arange(self.n_weeks)
        self.known = self.week_index[None, :] >= self.first_week[:, None]

    # ---------------------------------------------------------------- plumbing

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def metric(self, name: str, catalog: Mapping[str, MetricSpec]) -> Any:
        spec = catalog[name]
        kind = "run" if catalog is RUN_METRICS else "week"
        return self.cached(f"{kind}:{name}", lambda: spec.compute(self))

    def daily_sum(self, mask: BoolArray, weights: IntArray | None = None) -> IntArray:
        """Per athlete and local day, the sum of `weights` (or the count) over `mask`."""
        flat = self.columns.athlete[mask] * self.n_days + self.day_index[mask]
        w = None if weights is None else weights[mask]
        total = np.bincount(flat, weights=w, minlength=self.n_athletes * self.n_days)
        return np.rint(total).astype(np.int64).reshape(self.n_athletes, self.n_days)

    def daily_max(self, mask: BoolArray, weights: IntArray) -> IntArray:
        out = np.zeros(self.n_athletes * self.n_days, dtype=np.int64)
        flat = self.columns.athlete[mask] * self.n_days + self.day_index[mask]
        np.maximum.at(out, flat, weights[mask])
        return out.reshape(self.n_athletes, self.n_days)

    def by_week(self, daily: NDArray[Any]) -> NDArray[Any]:
        return daily.reshape(self.n_athletes, self.n_weeks, 7)

    def weekly_sum(self, daily: IntArray) -> IntArray:
        weekly: IntArray = self.by_week(daily).sum(axis=2)
        return weekly

    def daily_run_m(self) -> IntArray:
        return self.cached(  # type: ignore[no-any-return]
            "daily:run_m", lambda: self.daily_sum(self.is_running, self.columns.distance_m)
        )

    def masked(self, series: NDArray[Any]) -> NDArray[Any]:
        """A weekly series with unknown weeks (and undefined values) as 0, for window sums."""
        clean = np.where(np.isfinite(series), series, 0) if series.dtype.kind == "f" else series
        return np.where(self.known, clean, 0)

    def shifted_windows(self, series: NDArray[Any], n: int) -> NDArray[Any]:
        """Sum of the previous n weeks for every week (the week itself excluded)."""
        padded = np.concatenate(
            [np.zeros((self.n_athletes, 1), dtype=series.dtype), np.cumsum(series, axis=1)],
            axis=1,
        )
        ends = self.week_index
        starts = np.maximum(ends - n, 0)
        return padded[:, ends] - padded[:, starts]  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- functions

    def call_week(self, function: str, args: list[Any]) -> Any:
        if function == "min":
            return np.minimum(args[0], args[1])
        if function == "max":
            return np.maximum(args[0], args[1])
        if function == "known_weeks":
            return np.clip(self.metric("prior_weeks", WEEK_METRICS), 0, int(args[0]))
        if function == "ewma_daily_m":
            return self.cached(f"ewma:{int(args[0])}", lambda: self.ewma_daily_m(int(args[0])))
        if function == "longest_run_before":
            days = int(args[0])
            return self.cached(f"longest_before:{days}", lambda: self.longest_run_before(days))
        name, n = str(args[0]), int(args[1])
        series = self.masked(self.metric(name, WEEK_METRICS))
        if function == "prior_sum":
            return self.cached(f"prior_sum:{name}:{n}", lambda: self.shifted_windows(series, n))
        if function == "prior_mean":
            known = np.clip(self.metric("prior_weeks", WEEK_METRICS), 0, n)
            total = self.shifted_windows(series, n)
            return np.where(known > 0, total / np.maximum(known, 1), np.nan)
        # prior_max: windows are short (<= 104), so a loop over the offsets stays cheap.
        best = np.zeros_like(series)
        for k in range(1, n + 1):
            best[:, k:] = np.maximum(best[:, k:], series[:, :-k])
        return best

    def ewma_daily_m(self, n: int) -> FloatArray:
        """E_t = λ·L_t + (1 − λ)·E_(t−1), read each Sunday.

        Seeded with the load of the athlete's first observed day, as Williams et al. (2017)
        do: starting from 0 would make every ratio of two EWMAs of different lengths drift
        for months on a perfectly steady history.
        """
        lam = 2.0 / (n + 1)
        loads = self.daily_run_m().astype(np.float64)
        first_day = self.first_week * 7
        current = np.zeros(self.n_athletes)
        sundays = np.empty((self.n_athletes, self.n_weeks))
        for day in range(self.n_days):
            updated = lam * loads[:, day] + (1.0 - lam) * current
            current = np.where(
                day < first_day, 0.0, np.where(day == first_day, loads[:, day], updated)
            )
            if day % 7 == 6:
                sundays[:, day // 7] = current
        return sundays

    def longest_run_before(self, days: int) -> IntArray:
        """For each week, the longest run on the `days` local days before its Monday.

        Read on the Monday after a week, it is the 30-day longest that the next run is
        compared with; days before the calendar's first day hold no runs.
        """
        daily = self.daily_max(self.is_running, self.columns.distance_m)
        padded = np.concatenate([np.zeros((self.n_athletes, days), dtype=np.int64), daily], axis=1)
        best = np.zeros((self.n_athletes, self.n_weeks), dtype=np.int64)
        for week in range(self.n_weeks):
            # daily day d sits at padded column d + days; the window is days [7w - days, 7w).
            best[:, week] = padded[:, 7 * week : 7 * week + days].max(axis=1, initial=0)
        return best

    def call_run(self, function: str, args: list[Any]) -> Any:
        if function == "min":
            return np.minimum(args[0], args[1])
        if function == "max":
            return np.maximum(args[0], args[1])
        days = int(args[0])
        return self.cached(f"longest_within:{days}", lambda: self.longest_run_within(days))

    # ---------------------------------------------------------------- runs

    def runs(self) -> dict[str, NDArray[Any]]:
        """Every run with distance, ordered by athlete then local start (ties by id)."""

        def build() -> dict[str, NDArray[Any]]:
            c = self.columns
            idx = np.flatnonzero(self.is_running)
            order = np.lexsort((c.activity_id[idx], c.local_s[idx], c.athlete[idx]))
            idx = idx[order]
            return {
                "index": idx,
                "athlete": c.athlete[idx],
                "local_s": c.local_s[idx],
                "distance_m": c.distance_m[idx],
                "week": self.day_index[idx] // 7,
                "day": self.day_index[idx] + self.day0,
                "activity_id": c.activity_id[idx],
            }

        return self.cached("runs", build)  # type: ignore[no-any-return]

    def longest_run_within(self, days: int) -> IntArray:
        """For each run, the longest run of the same athlete starting in [t − days, t).

        A sparse table answers every window's maximum with two lookups, so the cost does not
        grow with how many runs a window holds.
        """
        runs = self.runs()
        span = np.int64(1) << np.int64(40)  # keeps athletes' timelines apart
        key = runs["athlete"] * span + runs["local_s"]
        low = np.searchsorted(key, key - days * SECONDS_PER_DAY, side="left")
        high = np.searchsorted(key, key, side="left")
        distance = runs["distance_m"]
        if distance.size == 0:
            return distance.copy()
        table = [distance]
        width = 1
        while width * 2 <= int((high - low).max(initial=0)):
            prev = table[-1]
            nxt = prev.copy()
            nxt[: prev.size - width] = np.maximum(prev[: prev.size - width], prev[width:])
            table.append(nxt)
            width *= 2
        length = high - low
        level = np.zeros_like(length)
        nonzero = length > 0
        level[nonzero] = np.floor(np.log2(length[nonzero])).astype(np.int64)
        stacked = np.stack(table)
        left = stacked[level, low.clip(max=distance.size - 1)]
        right_start = (high - (np.int64(1) << level)).clip(min=0)
        right = stacked[level, right_start]
        return np.where(nonzero, np.maximum(left, right), 0)


# -------------------------------------------------------------------- week metrics


def _sum_of(mask_name: str, field: str = "distance_m") -> Callable[[Cohort], IntArray]:
    def compute(cohort: Cohort) -> IntArray:
        mask = getattr(cohort, mask_name)
        return cohort.weekly_sum(cohort.daily_sum(mask, getattr(cohort.columns, field)))

    return compute


week_metric("run_m", "num", "running metres in the week (Run, TrailRun, VirtualRun)")(
    lambda c: c.weekly_sum(c.daily_run_m())
)
week_metric("outdoor_m", "num", "running metres not on a treadmill or trainer")(
    _sum_of("is_outdoor")
)
week_metric("treadmill_m", "num", "VirtualRun or Run with trainer: true, in metres")(
    _sum_of("is_treadmill")
)
week_metric("trail_m", "num", "TrailRun metres")(_sum_of("is_trail"))
week_metric("hard_surface_m", "num", "hard-surface proxy metres (outdoor Run)")(
    _sum_of("is_hard_surface")
)
week_metric("outdoor_gain_dm", "num", "elevation gain of outdoor runs, decimetres")(
    _sum_of("is_outdoor", "gain_dm")
)
week_metric("outdoor_gain_m", "num", "elevation gain of outdoor runs, metres")(
    lambda c: c.metric("outdoor_gain_dm", WEEK_METRICS) / 10
)


@week_metric("gain_per_km", "num", "outdoor gain per outdoor km, m/km (undefined at 0 km)")
def _gain_per_km(cohort: Cohort) -> FloatArray:
    gain = cohort.metric("outdoor_gain_dm", WEEK_METRICS)
    metres = cohort.metric("outdoor_m", WEEK_METRICS)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(metres > 0, gain * 100 / np.maximum(metres, 1), np.nan)


@week_metric("longest_run_m", "num", "the longest single run of the week, metres")
def _longest_run(cohort: Cohort) -> IntArray:
    daily = cohort.daily_max(cohort.is_running, cohort.columns.distance_m)
    return cohort.by_week(daily).max(axis=2)  # type: ignore[no-any-return]


week_metric("run_count", "num", "number of runs in the week")(
    lambda c: c.weekly_sum(c.daily_sum(c.is_running))
)
week_metric("run_days", "num", "local days with at least one run")(
    lambda c: (c.by_week(c.daily_run_m()) > 0).sum(axis=2)
)
week_metric("rest_days", "num", "local days without a run (7 − run_days)")(
    lambda c: 7 - c.metric("run_days", WEEK_METRICS)
)
week_metric("strength_sessions", "num", "strength sessions of at least the minimum length")(
    lambda c: c.weekly_sum(c.daily_sum(c.is_strength))
)
week_metric("strength_days", "num", "local days with a strength session (two on a day = one)")(
    lambda c: (c.by_week(c.daily_sum(c.is_strength)) > 0).sum(axis=2)
)
week_metric("prior_weeks", "num", "observed weeks before this one")(
    lambda c: np.clip(c.week_index[None, :] - c.first_week[:, None], 0, None)
)


def _streaks(cohort: Cohort) -> dict[str, IntArray]:
    """Consecutive local days with a hard-surface-proxy run; weeks do not break a streak."""
    hard = cohort.daily_sum(cohort.is_hard_surface) > 0
    days = np.arange(cohort.n_days)
    last_break = np.maximum.accumulate(np.where(hard, -1, days), axis=1)
    streak = np.where(hard, days - last_break, 0)
    weekly = cohort.by_week(streak)
    best = weekly.max(axis=2)
    end_in_week = weekly.argmax(axis=2)
    end = cohort.day0 + cohort.week_index[None, :] * 7 + end_in_week
    # No streak: no dates (0 is not a valid date ordinal and is shown as null).
    return {
        "days": best,
        "end": np.where(best > 0, end, 0),
        "start": np.where(best > 0, end - best + 1, 0),
    }


week_metric(
    "hard_surface_streak_days",
    "num",
    "longest run of consecutive days with a hard-surface run, ending in this week",
)(lambda c: c.cached("streaks", lambda: _streaks(c))["days"])
week_metric("hard_surface_streak_start", "date", "first day of that streak")(
    lambda c: c.cached("streaks", lambda: _streaks(c))["start"]
)
week_metric("hard_surface_streak_end", "date", "last day of that streak")(
    lambda c: c.cached("streaks", lambda: _streaks(c))["end"]
)


def _daily_spread(cohort: Cohort) -> dict[str, FloatArray]:
    daily = cohort.by_week(cohort.daily_run_m()).astype(np.float64)
    mean = daily.mean(axis=2)
    sd = daily.std(axis=2)  # population SD (divide by 7), as Foster computed it
    with np.errstate(divide="ignore", invalid="ignore"):
        monotony = np.where(sd > 0, mean / np.where(sd > 0, sd, 1), np.nan)
    return {"mean": mean, "sd": sd, "monotony": monotony}


week_metric("daily_mean_m", "num", "mean daily running metres over the 7 days")(
    lambda c: c.cached("spread", lambda: _daily_spread(c))["mean"]
)
week_metric("daily_sd_m", "num", "population SD of daily running metres over the 7 days")(
    lambda c: c.cached("spread", lambda: _daily_spread(c))["sd"]
)
week_metric("monotony", "num", "Foster monotony: mean / SD of daily load (undefined at SD 0)")(
    lambda c: c.cached("spread", lambda: _daily_spread(c))["monotony"]
)
week_metric("strain", "num", "Foster strain: weekly load × monotony")(
    lambda c: c.metric("run_m", WEEK_METRICS) * c.metric("monotony", WEEK_METRICS)
)


def _worn_gear(cohort: Cohort) -> dict[str, NDArray[Any]]:
    """Per week, the most-worn known shoe used on a run that week (current Strava distance)."""
    shape = (cohort.n_athletes, cohort.n_weeks)
    metres = np.zeros(shape, dtype=np.int64)
    ids = np.full(shape, None, dtype=object)
    names = np.full(shape, None, dtype=object)
    c = cohort.columns
    for i in np.flatnonzero(cohort.is_running & (c.gear >= 0)):
        athlete = int(c.athlete[i])
        known = cohort.gear[athlete] if cohort.gear else None
        gear_id = c.gear_ids[int(c.gear[i])]
        shoe = known.get(gear_id) if known and gear_id else None
        if shoe is None or getattr(shoe, "retired", False):
            continue
        week = int(cohort.day_index[i]) // 7
        if shoe.distance_m > metres[athlete, week]:
            metres[athlete, week] = shoe.distance_m
            ids[athlete, week] = gear_id
            names[athlete, week] = shoe.name
    return {"m": metres, "id": ids, "name": names}


week_metric("gear_m", "num", "current distance of the most-worn shoe run in", needs_gear=True)(
    lambda c: c.cached("gear", lambda: _worn_gear(c))["m"]
)
week_metric("gear_id", "text", "Strava id of that shoe", needs_gear=True)(
    lambda c: c.cached("gear", lambda: _worn_gear(c))["id"]
)
week_metric("gear_name", "text", "name of that shoe", needs_gear=True)(
    lambda c: c.cached("gear", lambda: _worn_gear(c))["name"]
)


@week_metric("strength_types", "text", "the sport types counted as strength, comma-separated")
def _strength_types(cohort: Cohort) -> NDArray[Any]:
    names = ", ".join(sorted(cohort.types.strength))
    return np.full((cohort.n_athletes, cohort.n_weeks), names, dtype=object)


week_metric("strength_min_minutes", "num", "minutes a strength session needs to count")(
    lambda c: c.types.strength_min_moving_time_s // 60
)


@week_metric("back_pain", "num", "the runner's own 0-10 back-pain answer (undefined if none)")
def _back_pain(cohort: Cohort) -> FloatArray:
    scores = np.full((cohort.n_athletes, cohort.n_weeks), np.nan)
    for athlete, answers in enumerate(cohort.back_pain or ()):
        for monday, score in (answers or {}).items():
            week = (monday.toordinal() - cohort.day0) // 7
            if 0 <= week < cohort.n_weeks:
                scores[athlete, week] = score
    return scores


@week_metric(
    "back_pain_weeks_rising",
    "num",
    "weeks in a row, ending with this one, that back pain was higher than the week before",
)
def _back_pain_rising(cohort: Cohort) -> IntArray:
    pain = cohort.metric("back_pain", WEEK_METRICS)
    rising = np.zeros(pain.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        up = pain[:, 1:] > pain[:, :-1]  # an unanswered week on either side is not a rise
    for week in range(1, cohort.n_weeks):
        rising[:, week] = np.where(up[:, week - 1], rising[:, week - 1] + 1, 0)
    return rising


# -------------------------------------------------------------------- run metrics

run_metric("run_m", "num", "this run's distance, metres")(lambda c: c.runs()["distance_m"])
run_metric("history_days", "num", "days observed before this run started")(
    lambda c: (c.runs()["local_s"] - c.first_day_s[c.runs()["athlete"]]) / SECONDS_PER_DAY
)
