"""Webhook events drained in batches: one queued drain per burst, every event applied once.

Events arrive through the real web route (FastAPI on the real Redis broker) on SQLite and
PostgreSQL; the drain runs on worker threads or, where a test needs to watch the queue
afterwards, as the job function itself.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from strideguard.db import transaction
from strideguard.integrations.strava import webhook_jobs
from strideguard.models import Activity, Evaluation, StravaSubscription, WebhookEvent
from strideguard.runtime import WorkerRuntime
from strideguard.settings import Settings
from strideguard.worker.drain_requests import MemoryDrainRequests, make_drain_requests
from strideguard.worker.embedded import InProcessWorker
from tests.strava.conftest import webhook_path
from tests.worker.conftest import add_athlete, queued
from tests.worker.waiting import wait_for

SUBSCRIPTION = 777
RUNNER, STRANGER = 1001, 4040
WEEK = dt.date(2025, 10, 13)


@pytest.fixture(autouse=True)
def deferred_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched drains are the `deferred` mode's (the default, `auto`, reads each new run with a
    job of its own)."""
    monkeypatch.setenv("STRAVA_WEBHOOK_SYNC", "deferred")


@pytest.fixture
def app_and_runtime(redis_settings: Settings) -> Iterator[tuple[TestClient, WorkerRuntime]]:
    """The web app sending to the real Redis broker; no worker consumes until a test starts one."""
    from strideguard.web.app import create_app
    from strideguard.web.worker_seam import attach_worker

    app = create_app(redis_settings)
    runtime = attach_worker(app, redis_settings, with_scheduler=False, run_jobs=False)
    with transaction(runtime.sessions) as session:
        session.add(StravaSubscription(subscription_id=SUBSCRIPTION, callback_url="https://x/y"))
    with TestClient(app) as client:
        yield client, runtime


def event(
    object_id: int, aspect: str = "create", owner: int = RUNNER, kind: str = "activity"
) -> str:
    return json.dumps(
        {
            "aspect_type": aspect,
            "event_time": 1_760_000_000 + object_id,
            "object_id": object_id,
            "object_type": kind,
            "owner_id": owner,
            "subscription_id": SUBSCRIPTION,
            "updates": {"title": "Evening run"} if aspect == "update" else {},
        }
    )


def post(client: TestClient, body: str) -> str:
    answer = client.post(webhook_path(client.app.state.settings), content=body)  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def store_runs(runtime: WorkerRuntime, athlete_id: int, strava_ids: list[int]) -> None:
    with transaction(runtime.sessions) as session:
        for offset, strava_id in enumerate(strava_ids):
            start = dt.datetime.combine(WEEK, dt.time(7)) + dt.timedelta(days=offset % 7)
            session.add(
                Activity(
                    strava_id=strava_id,
                    athlete_id=athlete_id,
                    sport_type="Run",
                    start_date=start.replace(tzinfo=dt.UTC),
                    start_date_local=start,
                    distance_m=8000,
                )
            )


def rows(runtime: WorkerRuntime) -> dict[int, tuple[str, int]]:
    """object_id -> (status, attempts) of every recorded event."""
    with runtime.sessions() as session:
        found = session.execute(
            select(WebhookEvent.object_id, WebhookEvent.status, WebhookEvent.attempts)
        ).all()
    return {row.object_id: (row.status, row.attempts) for row in found}


def actors_queued(runtime: WorkerRuntime, queue: str) -> Counter[str]:
    return Counter(json.loads(raw)["actor_name"] for raw in queued(runtime, queue))


def stored_activities(runtime: WorkerRuntime) -> set[int]:
    with runtime.sessions() as session:
        return set(session.scalars(select(Activity.strava_id)))


def test_a_burst_of_events_queues_one_drain_which_applies_each_event_once(
    app_and_runtime: tuple[TestClient, WorkerRuntime],
) -> None:
    client, runtime = app_and_runtime
    athlete = add_athlete(runtime.sessions, strava_id=RUNNER)
    store_runs(runtime, athlete, [901, 902, 903])
    answers = Counter(post(client, event(5000 + n)) for n in range(30))
    answers.update(post(client, event(strava_id, "delete")) for strava_id in (901, 902))
    answers.update(post(client, event(6000 + n, owner=STRANGER)) for n in range(5))
    answers.update([post(client, event(5000)), post(client, event(901, "delete"))])  # re-sent
    answers.update([post(client, event(RUNNER, "update", kind="athlete"))])
    assert answers == {"received": 38, "duplicate": 2}

    # 35 activity events wait for one drain; the athlete event and the two deletions (which
    # are confirmed with Strava first) have a job each.
    assert actors_queued(runtime, "sync") == {
        "drain_webhook_events": 1,
        "process_webhook_event": 3,
    }
    pool = InProcessWorker(runtime, threads=4).start()
    try:
        wait_for(
            lambda: all(status != "received" for status, _ in rows(runtime).values()),
            what="every event applied",
        )
    finally:
        pool.stop()
    applied = rows(runtime)
    assert len(applied) == 38
    assert {attempts for _, attempts in applied.values()} == {1}
    assert Counter(status for status, _ in applied.values()) == {
        "processed": 30,
        "ignored": 6,
        "failed": 2,
    }
    assert all(applied[6000 + n][0] == "ignored" for n in range(5))  # not our runner
    assert applied[RUNNER][0] == "ignored"  # a profile change means nothing to us
    # No Strava is configured here, so the deletions cannot be confirmed and delete nothing
    # (tests/security/test_webhook_attacks.py confirms them with the simulator).
    assert applied[901][0] == applied[902][0] == "failed"
    assert stored_activities(runtime) == {901, 902, 903}


def test_an_event_recorded_once_a_drain_has_started_queues_the_next_drain(
    app_and_runtime: tuple[TestClient, WorkerRuntime],
) -> None:
    client, runtime = app_and_runtime
    add_athlete(runtime.sessions, strava_id=RUNNER)
    post(client, event(1))
    post(client, event(2))
    assert actors_queued(runtime, "sync") == {"drain_webhook_events": 1}
    webhook_jobs.drain_events(runtime)  # as a worker would, with the message still listed
    post(client, event(3))
    # Without a second message, event 3 would wait for the reconciler.
    assert actors_queued(runtime, "sync") == {"drain_webhook_events": 2}
    assert rows(runtime) == {1: ("processed", 1), 2: ("processed", 1), 3: ("received", 0)}


def test_a_late_change_to_a_judged_week_sends_that_week_back_for_judging(
    app_and_runtime: tuple[TestClient, WorkerRuntime],
) -> None:
    client, runtime = app_and_runtime
    athlete = add_athlete(runtime.sessions, strava_id=RUNNER)
    store_runs(runtime, athlete, [901])
    judged = dt.datetime(2025, 10, 20, 6, tzinfo=dt.UTC)
    with transaction(runtime.sessions) as session:
        session.add(Evaluation(athlete_id=athlete, week_start=WEEK, status="done", due_at=judged))
    post(client, event(901, "update"))
    post(client, event(999, "update"))  # an activity we do not hold: nothing to re-judge
    webhook_jobs.drain_events(runtime)
    with runtime.sessions() as session:
        assert session.scalar(select(Evaluation.status)) == "pending"
    assert actors_queued(runtime, "evaluate") == {"evaluate_week": 1}


def test_drains_running_at_once_apply_each_event_exactly_once(
    redis_settings: Settings,
    runtime: WorkerRuntime,
) -> None:
    """More events than one batch, two drains at the same time (PostgreSQL skips locked rows,
    SQLite serialises the writers)."""
    add_athlete(runtime.sessions, strava_id=RUNNER)
    count = webhook_jobs.DRAIN_BATCH * 2 + 100
    with transaction(runtime.sessions) as session:
        session.add_all(
            WebhookEvent(
                subscription_id=SUBSCRIPTION,
                object_type="activity",
                object_id=n,
                aspect_type="create",
                owner_id=RUNNER,
                event_time=n,
            )
            for n in range(count)
        )
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            webhook_jobs.drain_events(runtime)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with runtime.sessions() as session:
        outcome = session.execute(
            select(WebhookEvent.status, WebhookEvent.attempts, func.count()).group_by(
                WebhookEvent.status, WebhookEvent.attempts
            )
        ).all()
    assert [tuple(row) for row in outcome] == [("processed", 1, count)]


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_drain_requests_let_one_request_through_until_the_drain_starts(
    shared: str, runtime: WorkerRuntime
) -> None:
    requests = MemoryDrainRequests() if shared == "memory" else make_drain_requests(runtime.broker)
    asks: Callable[[], list[bool]] = lambda: [requests.request() for _ in range(3)]  # noqa: E731
    assert asks() == [True, False, False]
    requests.started()
    assert asks() == [True, False, False]
