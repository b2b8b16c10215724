"""Webhooks end to end: Strava (the simulator) POSTs to our app served for real by uvicorn."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app as cli
from strideguard.integrations.strava.budget import Reservation
from strideguard.integrations.strava.jobs import run_job
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.subscription import ensure_subscription, webhook_secret
from strideguard.integrations.strava.sync import backfill
from strideguard.models import Activity, StravaSubscription, WebhookEvent
from tests.strava.conftest import (
    RUNNER,
    START,
    VERIFY_TOKEN,
    LiveApp,
    connect_directly,
    row_counts,
    run,
    webhook_path,
)


def _callback(live: LiveApp) -> str:
    return f"{live.url}{webhook_path(live.app.state.strava.settings)}"


def _subscribed(live: LiveApp) -> int:
    ensure_subscription(live.app.state.strava)
    with live.app.state.strava.sessions() as session:
        return int(session.scalars(select(StravaSubscription.subscription_id)).one())


def _event(subscription_id: int, **changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "aspect_type": "create",
        "event_time": 1772618850,
        "object_id": 6001,
        "object_type": "activity",
        "owner_id": RUNNER,
        "subscription_id": subscription_id,
        "updates": {},
    }
    event.update(changes)
    return event


def test_validation_echoes_the_challenge_only_for_our_verify_token(live: LiveApp) -> None:
    ok = requests.get(
        _callback(live),
        params={
            "hub.mode": "subscribe",
            "hub.challenge": "15f7d1a9",
            "hub.verify_token": VERIFY_TOKEN,
        },
        timeout=5,
    )
    assert ok.status_code == 200
    assert ok.json() == {"hub.challenge": "15f7d1a9"}
    wrong = requests.get(
        _callback(live),
        params={"hub.mode": "subscribe", "hub.challenge": "15f7d1a9", "hub.verify_token": "guess"},
        timeout=5,
    )
    assert wrong.status_code == 403
    assert "15f7d1a9" not in wrong.text


def test_subscribe_command_creates_then_repairs_the_subscription(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["strava", "subscribe"])
    assert first.exit_code == 0, first.output
    assert "created subscription" in first.output
    assert "/strava/webhook/<secret>" in first.output
    assert webhook_secret(live.app.state.strava.settings) not in first.output  # pasted in tickets
    again = runner.invoke(cli, ["strava", "subscribe"])
    assert "kept subscription" in again.output
    # the app moved: the old subscription points at a dead callback and must be replaced
    sim.subscriptions[0].callback_url = "http://old-host.invalid/strava/webhook"
    repaired = runner.invoke(cli, ["strava", "subscribe", "--format", "json"])
    actions = json.loads(repaired.stdout)["actions"]
    assert actions[0].startswith("deleted subscription")
    assert actions[1].startswith("created subscription")
    assert [s.callback_url for s in sim.subscriptions] == [_callback(live)]
    with sessions() as session:
        assert session.scalars(select(StravaSubscription.subscription_id)).all() == [
            sim.subscriptions[0].id
        ]


def test_a_delete_event_removes_the_activity(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)
    ctx = live.app.state.strava
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    delivery = sim.delete_activity(RUNNER, 5003, wait=True)
    assert delivery is not None
    assert delivery.delivered
    assert len(live.jobs) == 1
    run_job(ctx, live.jobs[0])
    with sessions() as session:
        assert session.get(Activity, 5003) is None
        assert session.get(Activity, 5004) is not None
        assert session.scalars(select(WebhookEvent.status)).all() == ["processed"]


def test_a_create_event_with_immediate_sync_stores_the_activity(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)
    ctx = live.app.state.strava
    ctx.settings = ctx.settings.model_copy(update={"strava_webhook_sync": "immediate"})
    athlete_id = connect_directly(ctx, sim)
    sim.add_activity(RUNNER, run(7001, START - dt.timedelta(hours=1)), wait=True)
    run_job(ctx, live.jobs[0])
    with sessions() as session:
        stored = session.get(Activity, 7001)
    assert stored is not None
    assert stored.athlete_id == athlete_id
    assert stored.distance_m == 8000


def test_auto_sync_reads_a_new_run_at_once_while_the_day_has_room(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)
    ctx = live.app.state.strava
    assert ctx.settings.strava_webhook_sync == "auto"  # the default
    connect_directly(ctx, sim)
    sim.add_activity(RUNNER, run(7002, START - dt.timedelta(hours=1)), wait=True)
    run_job(ctx, live.jobs[-1])
    assert "/api/v3/activities/7002" in [r.path for r in sim.requests]
    with sessions() as session:
        assert session.get(Activity, 7002) is not None
        assert session.scalars(select(WebhookEvent.status)).all() == ["processed"]


def test_auto_sync_leaves_a_new_run_to_the_window_refresh_once_the_day_is_held(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)
    ctx = live.app.state.strava
    connect_directly(ctx, sim)
    now = ctx.clock()
    used = ctx.budget.usage(now).read_day
    # Every read left today is due to this day's evaluations.
    ctx.budget.hold(now, Reservation(evaluations_day=ctx.budget.limits().read_day - used))
    before = len(sim.requests)
    sim.add_activity(RUNNER, run(7003, START - dt.timedelta(hours=1)), wait=True)
    run_job(ctx, live.jobs[-1])
    # No request: processed as `deferred` would, and the next window refresh reads the run.
    assert [r.path for r in sim.requests[before:] if r.path.startswith("/api/")] == []
    with sessions() as session:
        assert session.get(Activity, 7003) is None
        assert session.scalars(select(WebhookEvent.status)).all() == ["processed"]


def test_deauthorization_event_leaves_nothing_behind(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)
    ctx = live.app.state.strava
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    sim.delete_activity(RUNNER, 5001, wait=True)  # leaves a webhook_events row behind it
    delivery = sim.deauthorize_athlete(RUNNER, wait=True)
    assert delivery is not None
    assert delivery.delivered
    for job in live.jobs:
        run_job(ctx, job)
    counts = row_counts(sessions)
    assert counts.pop("strava_subscriptions") == 1  # the application's, not the athlete's
    assert counts.pop("oauth_states") == 0
    assert all(count == 0 for count in counts.values()), counts


def test_the_same_event_twice_is_recorded_and_enqueued_once(
    live: LiveApp, sessions: sessionmaker[Session]
) -> None:
    subscription_id = _subscribed(live)
    for _ in range(2):
        answer = requests.post(
            _callback(live),
            json=_event(subscription_id),
            timeout=5,
        )
        assert answer.status_code == 200
    assert row_counts(sessions)["webhook_events"] == 1
    assert len(live.jobs) == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"aspect_type": "create"}).encode(), 400, "missing field"),
        ("unknown", 400, "unknown field 'extra'"),
        ("string-id", 400, "'object_id' must be a non-negative integer"),
        ("bad-aspect", 400, "'aspect_type' must be one of"),
        ("bad-updates", 400, "'updates' must be an object of strings"),
        ("wrong-subscription", 403, "unknown subscription_id"),
        (b"{" + b" " * 20_000 + b"}", 413, "larger than 16384 bytes"),
    ],
)
def test_forged_or_malformed_events_are_refused_and_not_recorded(
    live: LiveApp, sessions: sessionmaker[Session], body: bytes | str, status: int, message: str
) -> None:
    subscription_id = _subscribed(live)
    variants = {
        "unknown": _event(subscription_id, extra=1),
        "string-id": _event(subscription_id, object_id="6001"),
        "bad-aspect": _event(subscription_id, aspect_type="rename"),
        "bad-updates": _event(subscription_id, updates={"private": True}),
        "wrong-subscription": _event(subscription_id + 1),
    }
    payload = json.dumps(variants[body]).encode() if isinstance(body, str) else body
    answer = requests.post(
        _callback(live),
        data=payload,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert row_counts(sessions)["webhook_events"] == 0
    assert live.jobs == []


def test_a_huge_chunked_body_is_refused_before_parsing(
    live: LiveApp, sessions: sessionmaker[Session]
) -> None:
    _subscribed(live)

    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 1024

    answer = requests.post(_callback(live), data=chunks(), timeout=5)
    assert answer.status_code == 413
    assert row_counts(sessions)["webhook_events"] == 0
