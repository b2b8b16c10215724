"""Seeded synthetic training histories for the rules benchmark, built straight as columns.

Runners differ in weekly volume, runs per week, surfaces, hills and strength habits, and
their weeks vary (including occasional spikes and empty weeks), so every rule has work to do.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from strideguard.rules.columns import SECONDS_PER_DAY, ActivityColumns

SPORTS = ("Run", "TrailRun", "VirtualRun", "WeightTraining", "Ride")
START = dt.date(2024, 1, 1)  # a Monday


def synthetic_columns(n_athletes: int, n_weeks: int = 52, seed: int = 20251013) -> ActivityColumns:
    rng = np.random.default_rng(seed)
    days = 7 * n_weeks
    base_km = rng.uniform(10, 70, n_athletes)
    runs_per_week = rng.integers(2, 8, n_athletes)
    strength_per_week = rng.uniform(0, 3, n_athletes)
    hilliness = rng.uniform(0, 25, n_athletes)  # m per km
    # Week-to-week factor: mostly steady, sometimes a big jump, sometimes a week off.
    week_factor = rng.lognormal(0.0, 0.2, (n_athletes, n_weeks))
    week_factor[rng.random((n_athletes, n_weeks)) < 0.05] *= 1.8
    week_factor[rng.random((n_athletes, n_weeks)) < 0.03] = 0.0
    daily_factor = np.repeat(week_factor, 7, axis=1)

    ran = rng.random((n_athletes, days)) < (runs_per_week / 7)[:, None]
    ran &= daily_factor > 0
    athlete, day = np.nonzero(ran)
    per_run_km = base_km[athlete] / runs_per_week[athlete] * daily_factor[athlete, day]
    distance = np.rint(per_run_km * 1000 * rng.lognormal(0, 0.35, athlete.size)).astype(np.int64)
    surface = rng.random(athlete.size)
    sport = np.where(surface < 0.1, 1, np.where(surface < 0.15, 2, 0))
    trainer = (sport == 0) & (rng.random(athlete.size) < 0.05)
    gain = np.rint(distance / 1000 * hilliness[athlete] * rng.uniform(0.3, 1.7, athlete.size) * 10)
    gain = np.where((sport == 2) | trainer, 0, gain).astype(np.int64)

    lifted = rng.random((n_athletes, days)) < (strength_per_week / 7)[:, None]
    s_athlete, s_day = np.nonzero(lifted)
    ride = rng.random((n_athletes, days)) < 0.05
    r_athlete, r_day = np.nonzero(ride)

    athletes = np.concatenate([athlete, s_athlete, r_athlete])
    all_days = np.concatenate([day, s_day, r_day])
    n = athletes.size
    hours = rng.integers(5, 22, n)
    local_s = (START.toordinal() + all_days) * SECONDS_PER_DAY + hours * 3600
    order = np.lexsort((local_s, athletes))
    n_runs, n_lifts = athlete.size, s_athlete.size
    sports = np.concatenate([sport, np.full(n_lifts, 3), np.full(r_athlete.size, 4)])
    distances = np.concatenate(
        [distance, np.zeros(n_lifts, dtype=np.int64), rng.integers(15_000, 60_000, r_athlete.size)]
    )
    moving = np.concatenate(
        [
            distances[:n_runs] * 6 // 20,
            rng.integers(300, 4_000, n_lifts),
            rng.integers(1_800, 9_000, r_athlete.size),
        ]
    )
    gains = np.concatenate([gain, np.zeros(n - n_runs, dtype=np.int64)])
    trainers = np.concatenate([trainer, np.zeros(n - n_runs, dtype=bool)])
    manual = rng.random(n) < 0.02
    return ActivityColumns(
        n_athletes=n_athletes,
        athlete=athletes[order].astype(np.int64),
        activity_id=np.arange(1, n + 1, dtype=np.int64),
        local_s=local_s[order].astype(np.int64),
        sport=sports[order].astype(np.int64),
        sport_names=SPORTS,
        distance_m=distances[order].astype(np.int64),
        moving_time_s=moving[order].astype(np.int64),
        gain_dm=gains[order],
        trainer=trainers[order],
        manual=manual[order],
        gear=np.full(n, -1, dtype=np.int64),
        gear_ids=(),
    )
