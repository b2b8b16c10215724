"""The engine counts exactly what the straightforward per-athlete loop counts.

bench/rules_naive.py computes the default catalog from RULES.md in plain Python, with no
arrays or shared metrics; the benchmark times it. Here it checks the engine on a small seeded
synthetic population, so a regression shows in the test suite, not only in a benchmark run.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from types import ModuleType

from strideguard.rules import load_config
from strideguard.rules.backtest import backtest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_engine_matches_the_naive_loop_on_synthetic_athletes() -> None:
    synthetic = _bench_module("rules_synthetic")
    naive = _bench_module("rules_naive")
    config = load_config()
    athletes, weeks = 25, 20
    columns = synthetic.synthetic_columns(athletes, weeks, seed=7)
    start: dt.date = synthetic.START
    result = backtest(
        columns, config, first_week=start, last_week=start + dt.timedelta(weeks=weeks - 1)
    )
    expected = naive.naive_backtest(
        naive.histories_from_columns(columns, athletes), config, start.toordinal(), weeks
    )
    assert set(expected) == set(naive.RULES)
    for rule, counts in expected.items():
        assert list(result.per_week[rule]) == counts, rule
    # The population must give every rule something to count, or the check proves little.
    assert all(sum(counts) > 0 for counts in expected.values())
