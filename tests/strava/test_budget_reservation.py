"""Holding back what is due: properties of the reservation (pure parts, then MemoryBudget).

The promise: whatever burst of backfills, background work and per-run fetches comes first,
the evaluations held for still get their reads; per-run fetches get theirs after any burst of
backfills; and with nothing due, a backfill may use the whole limit.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from strideguard.integrations.strava.budget import (
    DAY_S,
    WINDOW_S,
    MemoryBudget,
    Reservation,
    cap_for,
)
from strideguard.integrations.strava.due_reads import reservation_for
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.worker.ports import Priority

NOW = dt.datetime(2026, 3, 2, 10, 7, 30, tzinfo=dt.UTC)  # a Monday
OTHERS = [Priority.BACKFILL, Priority.BACKGROUND, Priority.RUN]


def _headers(window: int, day: int) -> dict[str, str]:
    return {
        "X-ReadRateLimit-Limit": f"{window},{day}",
        "X-ReadRateLimit-Usage": "0,0",
        "X-RateLimit-Limit": f"{2 * window},{2 * day}",
        "X-RateLimit-Usage": "0,0",
    }


def _granted(budget: MemoryBudget, priority: Priority, times: int) -> int:
    granted = 0
    for _ in range(times):
        try:
            budget.reserve(priority, NOW)
            granted += 1
        except BudgetExceeded:
            pass
    return granted


@st.composite
def held_windows(draw: st.DrawFn) -> tuple[int, int, int]:
    limit = draw(st.integers(1, 120))
    evaluations = draw(st.integers(0, limit))
    runs = draw(st.integers(0, limit - evaluations))
    return limit, evaluations, runs


@settings(max_examples=200, deadline=None)
@given(held_windows(), st.lists(st.sampled_from(OTHERS), max_size=300))
def test_no_burst_takes_the_reads_held_for_evaluations_or_runs(
    held: tuple[int, int, int], burst: list[Priority]
) -> None:
    limit, evaluations, runs = held
    budget = MemoryBudget()
    budget.observe(_headers(limit, 10 * limit), NOW)
    budget.hold(NOW, Reservation(evaluations, evaluations, runs, runs))
    for other in burst:
        if other is not Priority.RUN:
            _granted(budget, other, 1)
    # After any burst of backfills and background work, every held run still gets its read...
    assert _granted(budget, Priority.RUN, runs) == runs
    for priority in burst:
        _granted(budget, priority, 1)
    # ...and after any burst at all, every held evaluation gets its read.
    assert _granted(budget, Priority.EVALUATION, evaluations) == evaluations


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 500), st.integers(0, 500), st.integers(0, 500))
def test_caps_never_exceed_the_limit_and_evaluations_may_use_it_all(
    limit: int, evaluations: int, runs: int
) -> None:
    assert cap_for(Priority.EVALUATION, limit, 1.0, evaluations, runs) == limit
    assert cap_for(Priority.RUN, limit, 1.0, evaluations, runs) == limit - evaluations
    assert cap_for(Priority.BACKFILL, limit, 1.0, evaluations, runs) == limit - evaluations - runs
    assert cap_for(Priority.BACKFILL, limit, 1.0, 0, 0) == limit  # nothing due: all of it
    assert cap_for(Priority.BACKGROUND, limit, 0.6, 0, 0) == max(1, int(limit * 0.6))


def test_reservation_counts_what_is_due_in_the_window_and_the_day() -> None:
    window_end = dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.UTC)
    due = [
        NOW - dt.timedelta(hours=4),  # overdue, still pending: this window
        window_end - dt.timedelta(seconds=1),  # this window
        window_end,  # the next window, today
        dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC),  # today
        dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC),  # tomorrow: not held today
    ]
    # 96 new-run webhooks over the last day: one per window; 13h52.5m of the day remain.
    held = reservation_for(NOW, due, runs_last_day=96)
    assert held == Reservation(evaluations_window=2, evaluations_day=4, runs_window=1, runs_day=56)
    assert reservation_for(NOW, [], 0) == Reservation()
    assert DAY_S // WINDOW_S == 96
