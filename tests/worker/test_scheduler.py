"""The scheduler: due weeks become evaluations once, catch-up after downtime, one instance only."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.models import Activity, Evaluation, Gear
from strideguard.runtime import WorkerRuntime
from strideguard.settings import Settings
from strideguard.worker.ports import Priority
from strideguard.worker.scheduler import Scheduler
from strideguard.worker.single_instance import AlreadyRunning, SchedulerLock
from tests.worker.conftest import add_athlete, queued
from tests.worker.waiting import children_of

UTC = dt.UTC


def evaluations(runtime: WorkerRuntime) -> list[tuple[int, dt.date, str, dt.datetime]]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(
                Evaluation.athlete_id, Evaluation.week_start, Evaluation.status, Evaluation.due_at
            ).order_by(Evaluation.athlete_id, Evaluation.week_start)
        ).all()
    return [(a, w, s, d if d.tzinfo else d.replace(tzinfo=UTC)) for a, w, s, d in rows]


def enqueued_weeks(runtime: WorkerRuntime) -> list[tuple[int, str]]:
    return sorted(
        (json.loads(raw)["args"][0], json.loads(raw)["args"][1])
        for raw in queued(runtime, "evaluate")
    )


def test_catch_up_after_downtime_enqueues_each_closed_week_once(runtime: WorkerRuntime) -> None:
    # Connected on Monday 1 September after 06:00 in both zones: the week before is history.
    connected = dt.datetime(2025, 9, 1, 14, tzinfo=UTC)
    oslo = add_athlete(
        runtime.sessions, strava_id=1, timezone="Europe/Oslo", connected_at=connected
    )
    la = add_athlete(
        runtime.sessions, strava_id=2, timezone="America/Los_Angeles", connected_at=connected
    )
    scheduler = Scheduler(runtime)

    # Down from 1 September; back on Monday 22 September at 05:30 UTC: Oslo (07:30 local) has
    # three closed weeks, Los Angeles (Sunday 22:30 local) only two.
    back = dt.datetime(2025, 9, 22, 5, 30, tzinfo=UTC)
    first = scheduler.tick(back)
    assert sorted(first.scheduled) == [
        (oslo, dt.date(2025, 9, 1)),
        (oslo, dt.date(2025, 9, 8)),
        (oslo, dt.date(2025, 9, 15)),
        (la, dt.date(2025, 9, 1)),
        (la, dt.date(2025, 9, 8)),
    ]
    # A second tick adds nothing and sends nothing twice.
    assert scheduler.tick(back + dt.timedelta(seconds=1)).scheduled == []
    assert enqueued_weeks(runtime) == sorted((a, w.isoformat()) for a, w in first.scheduled)
    # A restarted scheduler schedules nothing new either.
    assert Scheduler(runtime).schedule_due_weeks(back + dt.timedelta(seconds=2)) == []
    # Later that Monday Los Angeles' week closes too, and only that week is added.
    later = scheduler.schedule_due_weeks(dt.datetime(2025, 9, 22, 13, 5, tzinfo=UTC))
    assert later == [(la, dt.date(2025, 9, 15))]

    rows = evaluations(runtime)
    assert len(rows) == 6
    assert {status for *_, status, _ in rows} == {"pending"}
    # Due at Monday 06:00 local: Oslo is UTC+2 in September, Los Angeles UTC-7.
    due = {(a, w): d for a, w, _, d in rows}
    assert due[(oslo, dt.date(2025, 9, 15))] == dt.datetime(2025, 9, 22, 4, tzinfo=UTC)
    assert due[(la, dt.date(2025, 9, 15))] == dt.datetime(2025, 9, 22, 13, tzinfo=UTC)


def test_a_tick_holds_the_reads_of_the_evaluations_due_this_window_and_day(
    runtime: WorkerRuntime,
) -> None:
    connected = dt.datetime(2025, 9, 1, 14, tzinfo=UTC)
    add_athlete(runtime.sessions, strava_id=1, timezone="Europe/Oslo", connected_at=connected)
    la = add_athlete(
        runtime.sessions, strava_id=2, timezone="America/Los_Angeles", connected_at=connected
    )
    scheduler = Scheduler(runtime)
    # Monday 8 September, 05:30 UTC: Oslo's week is due (pending, this window); Los Angeles'
    # becomes due at 13:00 UTC, later today. Nothing else is due today.
    now = dt.datetime(2025, 9, 8, 5, 30, tzinfo=UTC)
    scheduler.tick(now)
    held = runtime.strava.budget.held(now)
    assert (held.evaluations_window, held.evaluations_day) == (1, 2)
    # A backfill burst now leaves those two reads for the evaluations.
    budget = runtime.strava.budget
    while True:
        try:
            budget.reserve(Priority.BACKFILL, now)
        except BudgetExceeded:
            break
    assert budget.usage(now).read_window == budget.limits().read_window - 1
    budget.reserve(Priority.EVALUATION, now)  # the Oslo evaluation gets its read
    assert budget.usage(now).read_window == budget.limits().read_window
    assert budget.held(now).evaluations_day == 2  # until the next tick recounts
    # Once the evaluation is done, the next tick holds only Los Angeles' read; and one more
    # for each of that runner's shoes we hold no count for, which the evaluation will read.
    with runtime.sessions.begin() as session:
        session.execute(update(Evaluation).values(status="done"))
        day = dt.datetime(2025, 9, 6, 8, 0)
        for strava_id, gear_id in ((71, "g1"), (72, "g1"), (73, "g2"), (74, None)):
            session.add(
                Activity(
                    strava_id=strava_id,
                    athlete_id=la,
                    sport_type="Run",
                    start_date=day.replace(tzinfo=UTC),
                    start_date_local=day,
                    distance_m=5000,
                    gear_id=gear_id,
                )
            )
        session.add(Gear(athlete_id=la, strava_gear_id="g2", distance_m=100_000))
    later = now + dt.timedelta(minutes=1)
    scheduler.tick(later)
    assert (budget.held(later).evaluations_window, budget.held(later).evaluations_day) == (0, 2)


def test_athletes_who_cannot_be_mailed_or_revoked_get_no_evaluations(
    runtime: WorkerRuntime,
) -> None:
    connected = dt.datetime(2025, 9, 1, 12, tzinfo=UTC)
    add_athlete(runtime.sessions, strava_id=1, connected_at=connected, revoked=True)
    add_athlete(runtime.sessions, strava_id=2, connected_at=connected, email_status="bounced")
    report = Scheduler(runtime).tick(dt.datetime(2025, 9, 9, 7, tzinfo=UTC))
    assert report.scheduled == []
    assert evaluations(runtime) == []


def test_a_zone_change_does_not_evaluate_a_week_twice(runtime: WorkerRuntime) -> None:
    connected = dt.datetime(2025, 9, 1, 12, tzinfo=UTC)
    athlete = add_athlete(
        runtime.sessions, strava_id=1, timezone="Asia/Tokyo", connected_at=connected
    )
    scheduler = Scheduler(runtime)
    assert scheduler.tick(dt.datetime(2025, 9, 7, 22, tzinfo=UTC)).scheduled == [
        (athlete, dt.date(2025, 9, 1))
    ]
    # The runner flies to New York; the same week is not due again in the new zone.
    with runtime.sessions.begin() as session:
        from strideguard.models import Athlete

        row = session.get(Athlete, athlete)
        assert row is not None
        row.timezone = "America/New_York"
    assert scheduler.tick(dt.datetime(2025, 9, 8, 11, tzinfo=UTC)).scheduled == []
    assert len(evaluations(runtime)) == 1


def test_second_scheduler_lock_is_refused(runtime: WorkerRuntime) -> None:
    with SchedulerLock(runtime.engine), pytest.raises(AlreadyRunning, match="already running"):
        SchedulerLock(runtime.engine).__enter__()
    # Released on exit: a replacement may start.
    with SchedulerLock(runtime.engine):
        pass


def test_second_scheduler_process_refuses_to_start(redis_settings: Settings) -> None:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    command = [sys.executable, "-m", "strideguard.cli.main", "scheduler"]
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until the first one ticks (its log line says it started).
        assert first.stderr is not None
        deadline = time.monotonic() + 30
        for line in first.stderr:
            if "scheduler started" in line or time.monotonic() > deadline:
                break
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert "another strideguard scheduler is already running" in second.stderr
    finally:
        first.terminate()
        first.wait(timeout=30)
    assert first.returncode == 0


def test_lookback_bounds_how_far_back_catch_up_goes(
    worker_env: Callable[..., Settings], redis_url: str, redis_namespace: str
) -> None:
    from strideguard.runtime import start_runtime

    runtime = start_runtime(
        worker_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, LOOKBACK_WEEKS="2")
    )
    try:
        add_athlete(runtime.sessions, connected_at=dt.datetime(2025, 1, 1, tzinfo=UTC))
        report = Scheduler(runtime).tick(dt.datetime(2025, 9, 22, 7, tzinfo=UTC))
        assert [week for _, week in report.scheduled] == [
            dt.date(2025, 9, 8),
            dt.date(2025, 9, 15),
        ]
    finally:
        runtime.close()


def test_worker_supervisor_restarts_a_dead_process_and_stops_cleanly(
    sqlite_env: Callable[..., Settings], redis_url: str, redis_namespace: str
) -> None:
    import signal

    sqlite_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace)

    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "strideguard.cli.main",
            "worker",
            "--processes",
            "2",
            "--threads",
            "1",
        ]
    )
    try:
        deadline = time.monotonic() + 30
        while len(children_of(supervisor.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        before = children_of(supervisor.pid)
        assert len(before) == 2
        victim = min(before)
        os.kill(victim, signal.SIGKILL)  # e.g. the OOM killer
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = children_of(supervisor.pid)
            if len(after) == 2 and victim not in after:
                break
            time.sleep(0.2)
        assert len(after) == 2
        assert victim not in after
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(60) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_worker_without_redis_refuses_with_a_clear_message(
    sqlite_env: Callable[..., Settings],
) -> None:
    sqlite_env()
    result = subprocess.run(
        [sys.executable, "-m", "strideguard.cli.main", "worker"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_reconnecting_after_a_revocation_does_not_replay_the_weeks_missed(
    runtime: WorkerRuntime,
) -> None:
    from sqlalchemy import update

    from strideguard.models import StravaConnection

    athlete = add_athlete(runtime.sessions, connected_at=dt.datetime(2025, 6, 2, 12, tzinfo=UTC))
    # Revoked in July; reconnected (and backfilled again) on Wednesday 10 September.
    with runtime.sessions.begin() as session:
        session.execute(
            update(StravaConnection)
            .where(StravaConnection.athlete_id == athlete)
            .values(backfilled_at=dt.datetime(2025, 9, 10, 9, tzinfo=UTC))
        )
    report = Scheduler(runtime).tick(dt.datetime(2025, 9, 15, 7, tzinfo=UTC))
    assert report.scheduled == [(athlete, dt.date(2025, 9, 8))]
