"""Benchmark: a full backtest of the default catalog over 10,000 synthetic athletes x 52 weeks.

    .venv/bin/python bench/rules_backtest.py [--athletes 10000] [--weeks 52] [--repeats 5]

Runs the engine (`strideguard.rules.backtest.backtest`) and the straightforward per-athlete loop
(`rules_naive.py`: for each athlete, for each week, filter activities and compute each rule
from scratch) side by side in this process, reports athlete-weeks per second and seconds
(median of the repeats), checks that both count exactly the same alerts on the athletes the
naive loop covers, and writes bench/results/rules_backtest.json. The naive loop runs on a
sample of athletes (it would take minutes on all); its full-size time is extrapolated from its
measured rate, and the JSON says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from rules_naive import RULES, histories_from_columns, naive_backtest
from rules_synthetic import START, synthetic_columns

from strideguard.rules import load_config
from strideguard.rules.backtest import backtest
from strideguard.rules.columns import ActivityColumns

RESULTS = Path(__file__).resolve().parent / "results" / "rules_backtest.json"
T = TypeVar("T")


def timed(run: Callable[[], T], repeats: int) -> tuple[T, list[float]]:
    times: list[float] = []
    result: T | None = None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    assert result is not None
    return result, times


def first_athletes(columns: ActivityColumns, count: int) -> ActivityColumns:
    rows = columns.athlete < count
    return columns.select(rows, columns.athlete[rows], count)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--athletes", type=int, default=10_000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--naive-athletes", type=int, default=300)
    parser.add_argument("--naive-repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20251013)
    args = parser.parse_args(argv)

    config = load_config()
    last_week = START + dt.timedelta(weeks=args.weeks - 1)
    began = time.perf_counter()
    columns = synthetic_columns(args.athletes, args.weeks, args.seed)
    generate_s = time.perf_counter() - began
    nominal = args.athletes * args.weeks
    print(
        f"generated {args.athletes} athletes x {args.weeks} weeks: "
        f"{columns.athlete.size} activities in {generate_s:.1f} s",
        flush=True,
    )

    def engine() -> Any:
        return backtest(columns, config, first_week=START, last_week=last_week)

    result, engine_times = timed(engine, args.repeats)
    engine_s = statistics.median(engine_times)
    print(
        f"engine: median {engine_s:.2f} s over {args.repeats} runs "
        f"({nominal / engine_s:,.0f} athlete-weeks/s)",
        flush=True,
    )

    sample = min(args.naive_athletes, args.athletes)
    histories = histories_from_columns(columns, sample)
    naive_counts, naive_times = timed(
        lambda: naive_backtest(histories, config, START.toordinal(), args.weeks),
        args.naive_repeats,
    )
    naive_s = statistics.median(naive_times)
    naive_rate = sample * args.weeks / naive_s
    print(
        f"naive loop: median {naive_s:.2f} s for {sample} athletes "
        f"({naive_rate:,.0f} athlete-weeks/s; ~{nominal / naive_rate:,.0f} s for all)",
        flush=True,
    )

    # The same athletes through the engine must give exactly the naive loop's counts.
    subset = backtest(
        first_athletes(columns, sample), config, first_week=START, last_week=last_week
    )
    mismatched = [
        rule for rule in naive_counts if list(subset.per_week[rule]) != naive_counts[rule]
    ]
    if mismatched:
        print(f"MISMATCH between engine and naive loop: {mismatched}", file=sys.stderr)

    report: dict[str, Any] = {
        "benchmark": "rules backtest, default catalog",
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
        },
        "athletes": args.athletes,
        "weeks": args.weeks,
        "activities": int(columns.athlete.size),
        "seed": args.seed,
        "generate_s": round(generate_s, 3),
        "engine": {
            "athlete_weeks": nominal,
            "athlete_weeks_observed": result.athlete_weeks,
            "median_s": round(engine_s, 3),
            "runs_s": [round(t, 3) for t in engine_times],
            "athlete_weeks_per_s": round(nominal / engine_s),
            "alerts": {rule: result.total(rule) for rule in result.per_week},
            "digests": sum(result.digests),
        },
        "naive_loop": {
            "athletes_measured": sample,
            "athlete_weeks_measured": sample * args.weeks,
            "median_s": round(naive_s, 3),
            "runs_s": [round(t, 3) for t in naive_times],
            "athlete_weeks_per_s": round(naive_rate),
            "full_size_s_extrapolated": round(nominal / naive_rate, 1),
            "rules": list(RULES),
        },
        "speedup": round((nominal / engine_s) / naive_rate, 1),
        "engine_matches_naive_on_sample": not mismatched,
        "target_s": 10.0,
        "meets_target": engine_s < 10.0,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"speedup x{report['speedup']}; wrote {RESULTS}")
    if mismatched:
        raise SystemExit(1)
    return report


if __name__ == "__main__":
    main()
