"""The shared rate budget: priorities, header truth, windows, Redis atomicity, 429 deferral."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import redis
import requests
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.budget import (
    MemoryBudget,
    RateBudget,
    RedisBudget,
    Reservation,
    ms_to_next_day,
    ms_to_next_window,
    next_window_start,
)
from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.source import StravaSource
from strideguard.integrations.strava.sync import refresh_window, sync_one_activity
from strideguard.models import Athlete
from strideguard.settings import Settings
from strideguard.worker.ports import Priority
from tests.strava.conftest import OTHER, connect_directly, seed

NOW = dt.datetime(2026, 3, 4, 10, 7, 30, tzinfo=dt.UTC)


def _headers(
    read_usage: tuple[int, int], read_limit: tuple[int, int] = (100, 1000)
) -> dict[str, str]:
    return {
        "X-ReadRateLimit-Limit": f"{read_limit[0]},{read_limit[1]}",
        "X-ReadRateLimit-Usage": f"{read_usage[0]},{read_usage[1]}",
        "X-RateLimit-Limit": "200,2000",
        "X-RateLimit-Usage": f"{read_usage[0]},{read_usage[1]}",
    }


def _spend(budget: RateBudget, priority: Priority, now: dt.datetime) -> int:
    """Reserve until refused; the refusal must name the next 15-minute window."""
    granted = 0
    delay = None
    while delay is None:
        try:
            budget.reserve(priority, now)
            granted += 1
        except BudgetExceeded as exceeded:
            delay = exceeded.retry_after_ms
    assert delay == ms_to_next_window(now)
    return granted


@pytest.fixture(params=["memory", "redis"])
def budget(request: pytest.FixtureRequest) -> RateBudget:
    if request.param == "memory":
        return MemoryBudget()
    namespace = request.getfixturevalue("redis_namespace")
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    return RedisBudget(client, namespace=namespace)


def test_with_nothing_due_a_backfill_may_use_the_whole_window(budget: RateBudget) -> None:
    assert _spend(budget, Priority.BACKFILL, NOW) == 100
    next_window = NOW + dt.timedelta(milliseconds=ms_to_next_window(NOW))
    budget.reserve(Priority.BACKFILL, next_window)  # a new window starts from zero


def test_what_is_due_is_held_back_from_the_rest(budget: RateBudget) -> None:
    budget.hold(NOW, Reservation(30, 300, 10, 100))
    assert _spend(budget, Priority.BACKGROUND, NOW) == 60  # its share; 40 are held anyway
    assert _spend(budget, Priority.BACKFILL, NOW) == 0  # 100 - 30 - 10: nothing left
    assert _spend(budget, Priority.RUN, NOW) == 10  # what the evaluations leave
    assert _spend(budget, Priority.EVALUATION, NOW) == 30  # all of theirs, after the burst
    # Held until the next tick replaces it with what is still due.
    assert budget.held(NOW) == Reservation(30, 300, 10, 100)
    budget.hold(NOW, Reservation(0, 270, 0, 90))
    assert budget.held(NOW) == Reservation(0, 270, 0, 90)
    # The next tick replaces what is held; a new window holds nothing until it does.
    next_window = NOW + dt.timedelta(milliseconds=ms_to_next_window(NOW))
    assert budget.held(next_window).evaluations_window == 0


def test_a_tick_holds_the_next_window_and_day_before_they_start(budget: RateBudget) -> None:
    """Deferred jobs all wake on the boundary, before the next tick can count what is due:
    without the hold ahead they took a whole window (and, at midnight, the new day's first
    reads) from the evaluations falling due then."""
    last_window = dt.datetime(2026, 3, 4, 23, 50, tzinfo=dt.UTC)
    midnight = next_window_start(last_window)
    assert midnight == dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
    assert _spend(budget, Priority.BACKFILL, last_window) == 100
    budget.hold(last_window, Reservation())
    budget.hold(midnight, Reservation(evaluations_window=80, evaluations_day=950))
    # Holding ahead leaves the current window's count as it was.
    assert budget.usage(last_window).read_window == 100
    assert _spend(budget, Priority.RUN, midnight) == 20
    assert _spend(budget, Priority.BACKFILL, midnight) == 0
    assert _spend(budget, Priority.EVALUATION, midnight) == 80
    # The next tick replaces the hold: 40 of the window's evaluations are done.
    budget.hold(midnight, Reservation(evaluations_window=0, evaluations_day=870))
    assert budget.held(midnight) == Reservation(evaluations_day=870)


def test_the_scheduler_holds_an_evaluation_due_on_the_next_boundary_before_it_starts(
    ctx: StravaContext, sim: Simulator
) -> None:
    athlete_id = connect_directly(ctx, sim)
    with ctx.sessions.begin() as session:
        session.get_one(Athlete, athlete_id).timezone = "Europe/London"
    # The week closing on Monday 9 March is due at 06:00 in London (UTC in March), with the
    # default six hours' grace; the last tick before it runs at 05:59.
    tick = dt.datetime(2026, 3, 9, 5, 59, tzinfo=dt.UTC)
    due = next_window_start(tick)
    StravaSource(ctx).reserve_reads(tick, dt.timedelta(hours=ctx.settings.evaluation_grace_hours))
    assert ctx.budget.held(tick).evaluations_window == 0
    assert ctx.budget.held(due).evaluations_window == 1
    # Deferred backfills that wake at 06:00, before the 06:00 tick, leave its read.
    assert _spend(ctx.budget, Priority.BACKFILL, due) == 99
    ctx.budget.reserve(Priority.EVALUATION, due)


def test_reported_usage_wins_when_higher_than_our_count(budget: RateBudget) -> None:
    budget.reserve(Priority.BACKGROUND, NOW)
    budget.observe(_headers((99, 300)), NOW)  # another instance spent most of the window
    budget.reserve(Priority.EVALUATION, NOW)
    with pytest.raises(BudgetExceeded):
        budget.reserve(Priority.BACKFILL, NOW)
    budget.observe(_headers((3, 300)), NOW)  # lower than ours: ours stands
    assert budget.usage(NOW).read_window == 100


def test_limits_learned_from_headers_and_the_daily_cap_defers_to_midnight(
    budget: RateBudget,
) -> None:
    budget.observe(_headers((0, 998), read_limit=(100, 1000)), NOW)
    budget.reserve(Priority.EVALUATION, NOW)  # 999 of 1000 today
    budget.hold(NOW, Reservation(evaluations_day=1))
    with pytest.raises(BudgetExceeded) as exceeded:
        budget.reserve(Priority.RUN, NOW)  # the last read of the day is an evaluation's
    assert exceeded.value.daily
    budget.reserve(Priority.EVALUATION, NOW)
    with pytest.raises(BudgetExceeded) as exceeded:
        budget.reserve(Priority.EVALUATION, NOW)
    assert exceeded.value.retry_after_ms == ms_to_next_day(NOW)
    budget.observe(_headers((0, 0), read_limit=(10, 1000)), NOW)
    assert budget.limits().read_window == 10


def test_redis_budget_is_shared_and_atomic_across_clients(
    redis_url: str, redis_namespace: str
) -> None:
    budgets = [
        RedisBudget(redis.Redis.from_url(redis_url), namespace=redis_namespace) for _ in range(4)
    ]
    granted: list[int] = []
    gate = threading.Barrier(len(budgets))

    def worker(budget: RedisBudget) -> None:
        gate.wait()
        granted.append(_spend(budget, Priority.EVALUATION, NOW))

    threads = [threading.Thread(target=worker, args=(b,)) for b in budgets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(granted) == 100
    assert budgets[0].usage(NOW).read_window == 100


def _ctx_for(sim: Simulator, settings: Settings, sessions: sessionmaker[Session]) -> StravaContext:
    return make_context(
        settings.model_copy(update={"strava_base_url": sim.base_url}),
        sessions,
        budget=MemoryBudget(),
        clock=sim.clock.now,
    )


def test_our_budget_stops_before_strava_would_say_429(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    clock = SimClock(NOW, ticking=False)
    with Simulator(seed(), clock=clock, read_limits=(10, 1000)) as sim:
        ctx = _ctx_for(sim, settings, sessions)
        athlete_id = connect_directly(ctx, sim, OTHER)
        for activity_id in range(9_000_000, 9_000_010):
            sync_one_activity(ctx, athlete_id, activity_id, priority=Priority.BACKFILL)
        # ten fill the 10-request window learned from the headers: the eleventh waits
        with pytest.raises(BudgetExceeded) as exceeded:
            sync_one_activity(ctx, athlete_id, 9_000_010, priority=Priority.BACKFILL)
        assert exceeded.value.retry_after_ms == ms_to_next_window(clock.now())
        assert [r.status for r in sim.requests if r.status == 429] == []


def test_a_429_defers_to_the_next_window_and_sends_nothing_more(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    clock = SimClock(NOW, ticking=False)
    with Simulator(seed(), clock=clock, read_limits=(5, 1000)) as sim:
        ctx = _ctx_for(sim, settings, sessions)
        athlete_id = connect_directly(ctx, sim, OTHER)
        # another application instance spends the whole window behind our back
        stranger = sim.issue_tokens(OTHER)["access_token"]
        for _ in range(5):
            requests.get(
                f"{sim.base_url}/api/v3/athlete",
                headers={"Authorization": f"Bearer {stranger}"},
                timeout=5,
            )
        with pytest.raises(BudgetExceeded) as exceeded:
            refresh_window(ctx, athlete_id)
        assert exceeded.value.retry_after_ms == ms_to_next_window(clock.now())
        seen = len(sim.requests)
        with pytest.raises(BudgetExceeded):
            refresh_window(ctx, athlete_id)
        assert len(sim.requests) == seen  # deferred without asking Strava again
        clock.advance(exceeded.value.retry_after_ms / 1000)
        assert refresh_window(ctx, athlete_id).fetched == 450
        assert sum(1 for r in sim.requests if r.status == 429) == 1
