"""Webhook attacks: whatever reaches the webhook, only a real event of our subscription
is recorded and enqueued, nothing else makes the app fail (no 500), and no event deletes
anything Strava has not deleted.

tests/strava/test_webhooks.py covers the malformed shapes over uvicorn; these are the hostile
ones: bodies built to exhaust the parser or the database column, forged handshakes, forged
deletions and deauthorizations sent with our real subscription id and callback secret (the
worst case), guessing, and replays. Strava is the simulator over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava import sync_jobs
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.integrations.strava.intake_throttle import (
    FAILURES_ALLOWED,
    WINDOW_S,
    MemoryThrottle,
    RedisThrottle,
)
from strideguard.integrations.strava.jobs import run_job
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.subscription import ensure_subscription, webhook_secret
from strideguard.integrations.strava.sync import backfill
from strideguard.integrations.strava.webhooks import MAX_BODY_BYTES
from strideguard.logs import RedactingFormatter
from strideguard.models import Activity, StravaSubscription, WebhookEvent
from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from strideguard.worker.ports import Priority
from tests.strava.conftest import (
    RUNNER,
    VERIFY_TOKEN,
    AppUnderTest,
    LiveApp,
    connect_directly,
    row_counts,
    webhook_path,
)

SUBSCRIPTION_ID = 120475


@pytest.fixture
def subscribed(app: AppUnderTest, sessions: sessionmaker[Session]) -> AppUnderTest:
    with sessions.begin() as session:
        session.add(
            StravaSubscription(
                subscription_id=SUBSCRIPTION_ID,
                callback_url=f"http://testserver{webhook_path(app.app.state.settings)}",
            )
        )
    return app


def _event(**changes: object) -> bytes:
    event: dict[str, object] = {
        "aspect_type": "create",
        "event_time": 1772618850,
        "object_id": 6001,
        "object_type": "activity",
        "owner_id": RUNNER,
        "subscription_id": SUBSCRIPTION_ID,
        "updates": {},
    }
    event.update(changes)
    return json.dumps(event).encode()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HOSTILE_BODIES = {
    "forged subscription_id": (_event(subscription_id=SUBSCRIPTION_ID + 1), 403),
    "deeply nested array": (_nested(5000), 400),
    "deeply nested object": (b'{"a":' * 2500 + b"1" + b"}" * 2500, 400),
    "deep nesting inside updates": (
        _event().replace(b'"updates": {}', b'"updates": ' + b'{"t":' * 2000 + b"1" + b"}" * 2000),
        400,
    ),
    "integer of 5000 digits": (_event().replace(b"6001", b"9" * 5000), 400),
    "id beyond a 64-bit column": (_event(object_id=2**64), 400),
    "subscription id beyond 64 bits": (_event(subscription_id=2**70), 400),
    "not JSON: form encoded": (b"aspect_type=create&object_id=1", 400),
    "not JSON: binary": (bytes(range(256)) * 8, 400),
    "empty body": (b"", 400),
    "JSON with a NaN id": (_event().replace(b"6001", b"NaN"), 400),
    "huge with Content-Length": (b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}", 413),
}


def test_hostile_bodies_are_refused_and_leave_no_trace(
    subscribed: AppUnderTest, sessions: sessionmaker[Session]
) -> None:
    with TestClient(subscribed.app, raise_server_exceptions=False) as client:
        for name, (body, status) in HOSTILE_BODIES.items():
            answer = client.post(
                webhook_path(subscribed.app.state.settings),
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == status, (name, answer.text)
            assert answer.json()["error"], name
            assert row_counts(sessions)["webhook_events"] == 0, name
            assert subscribed.jobs == [], name
        # the control: the same client and subscription, and a genuine event
        answer = client.post(webhook_path(subscribed.app.state.settings), content=_event())
    assert answer.status_code == 200
    assert row_counts(sessions)["webhook_events"] == 1
    assert len(subscribed.jobs) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_huge_chunked_body_without_content_length_is_refused(
    subscribed: AppUnderTest, sessions: sessionmaker[Session]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield _event()[:-1]
        for _ in range(MAX_BODY_BYTES // 1024 + 1):
            yield b" " * 1024
        yield b"}"

    with TestClient(subscribed.app) as client:
        answer = client.post(webhook_path(subscribed.app.state.settings), content=chunks())
    assert "content-length" not in {k.lower() for k in answer.request.headers}
    assert answer.status_code == 413
    assert row_counts(sessions)["webhook_events"] == 0
    assert subscribed.jobs == []


HANDSHAKES = [
    {"hub.mode": "subscribe", "hub.challenge": "c4a11e", "hub.verify_token": "guess"},
    {"hub.mode": "subscribe", "hub.challenge": "c4a11e", "hub.verify_token": ""},
    {"hub.mode": "subscribe", "hub.challenge": "c4a11e"},
    {"hub.mode": "subscribe", "hub.challenge": "c4a11e", "hub.verify_token": VERIFY_TOKEN[:-1]},
    {"hub.mode": "unsubscribe", "hub.challenge": "c4a11e", "hub.verify_token": VERIFY_TOKEN},
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_handshake_without_our_verify_token_echoes_nothing(browser: TestClient) -> None:
    path = webhook_path(browser.app.state.settings)  # type: ignore[attr-defined]
    for query in HANDSHAKES:
        answer = browser.get(path, params=query)
        assert answer.status_code in (400, 403), query
        assert "c4a11e" not in answer.text, query
    # an unset STRAVA_WEBHOOK_VERIFY_TOKEN must not match an empty or absent one
    ctx = browser.app.state.strava  # type: ignore[attr-defined]
    ctx.settings = ctx.settings.model_copy(update={"strava_webhook_verify_token": None})
    for query in ({"hub.verify_token": ""}, {}):
        answer = browser.get(
            path, params={"hub.mode": "subscribe", "hub.challenge": "c4a11e", **query}
        )
        assert answer.status_code == 403, query
        assert "c4a11e" not in answer.text, query


# ------------------------------------------------------------------ forged deletions


def _live_subscription(live: LiveApp) -> int:
    """`strideguard strava subscribe` against the simulator; the handshake uses our secret URL."""
    ensure_subscription(live.app.state.strava)
    with live.app.state.strava.sessions() as session:
        return int(session.scalars(select(StravaSubscription.subscription_id)).one())


def _post(live: LiveApp, event: bytes, path: str | None = None) -> requests.Response:
    target = path if path is not None else webhook_path(live.app.state.strava.settings)
    return requests.post(
        f"{live.url}{target}",
        data=event,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )


def _run_jobs(live: LiveApp) -> None:
    while live.jobs:
        run_job(live.app.state.strava, live.jobs.pop(0))


def _connected_with_history(live: LiveApp, sim: Simulator) -> int:
    ctx = live.app.state.strava
    athlete_id = connect_directly(ctx, sim)
    backfill(ctx, athlete_id)
    return athlete_id


def _statuses(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [
            (row.status, row.last_error)
            for row in session.execute(select(WebhookEvent.status, WebhookEvent.last_error))
        ]


def test_forged_deauthorization_with_a_live_grant_keeps_everything(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    subscription_id = _live_subscription(live)
    _connected_with_history(live, sim)
    before = row_counts(sessions)
    forged = _event(
        object_type="athlete",
        object_id=RUNNER,
        aspect_type="update",
        updates={"authorized": "false"},
        subscription_id=subscription_id,
    )
    with caplog.at_level(logging.WARNING, logger="strideguard.integrations.strava.webhooks"):
        assert _post(live, forged).status_code == 200
        _run_jobs(live)
    after = row_counts(sessions)
    assert after.pop("webhook_events") == before.pop("webhook_events") + 1
    assert after == before  # the athlete, tokens and all 21 activities are still here
    assert before["activities"] == 21
    [(status, reason)] = _statuses(sessions)
    assert status == "forged"
    assert "127.0.0.1" in str(reason)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "forged" in warning.getMessage()
    assert "127.0.0.1" in warning.getMessage()
    # Strava was asked, and said the grant is live
    assert sim.count_requests(RUNNER, "/api/v3/athlete") >= 1
    # a replay of the same forged event is a duplicate and costs nothing
    assert _post(live, forged).json() == {"status": "duplicate"}
    assert live.jobs == []


def test_forged_activity_delete_keeps_an_activity_strava_still_has(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    subscription_id = _live_subscription(live)
    _connected_with_history(live, sim)
    forged = _event(aspect_type="delete", object_id=5003, subscription_id=subscription_id)
    with caplog.at_level(logging.WARNING, logger="strideguard.integrations.strava.webhooks"):
        assert _post(live, forged).status_code == 200
        _run_jobs(live)
    with sessions() as session:
        assert session.get(Activity, 5003) is not None
    assert [status for status, _ in _statuses(sessions)] == ["forged"]
    assert any("activity 5003 still exists" in r.getMessage() for r in caplog.records)


def test_a_forged_delete_of_an_activity_we_do_not_hold_costs_no_request(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    subscription_id = _live_subscription(live)
    _connected_with_history(live, sim)
    sent = sim.count_requests(RUNNER)
    for object_id in range(70_000, 70_010):
        forged = _event(aspect_type="delete", object_id=object_id, subscription_id=subscription_id)
        assert _post(live, forged).status_code == 200
    _run_jobs(live)
    assert sim.count_requests(RUNNER) == sent
    assert row_counts(sessions)["activities"] == 21


def test_real_deauthorization_deletes_everything(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _live_subscription(live)
    _connected_with_history(live, sim)
    delivery = sim.deauthorize_athlete(RUNNER, wait=True)  # the grant dies on Strava's side
    assert delivery is not None
    assert delivery.delivered
    _run_jobs(live)
    counts = row_counts(sessions)
    assert counts.pop("strava_subscriptions") == 1
    assert all(count == 0 for count in counts.values()), counts


def test_a_replayed_deauthorization_after_reconnecting_deletes_nothing(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    """The real event's row went with the athlete, so a replay is not a duplicate: Strava's
    answer (the new grant is live) is what keeps the data."""
    _live_subscription(live)
    _connected_with_history(live, sim)
    delivery = sim.deauthorize_athlete(RUNNER, wait=True)
    assert delivery is not None
    _run_jobs(live)
    assert row_counts(sessions)["athletes"] == 0
    _connected_with_history(live, sim)  # the runner connects again
    replay = _post(live, json.dumps(delivery.event).encode())
    assert replay.json() == {"status": "received"}
    _run_jobs(live)
    counts = row_counts(sessions)
    assert (counts["athletes"], counts["activities"]) == (1, 21)
    assert [status for status, _ in _statuses(sessions)] == ["forged"]


def test_real_activity_delete_removes_it(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    _live_subscription(live)
    _connected_with_history(live, sim)
    delivery = sim.delete_activity(RUNNER, 5003, wait=True)
    assert delivery is not None
    assert delivery.delivered
    _run_jobs(live)
    with sessions() as session:
        assert session.get(Activity, 5003) is None
        assert session.get(Activity, 5004) is not None
    assert [status for status, _ in _statuses(sessions)] == ["processed"]


def test_a_confirmation_waits_for_the_rate_budget_and_deletes_nothing_meanwhile(
    live: LiveApp, sim: Simulator, sessions: sessionmaker[Session], clock: SimClock
) -> None:
    _live_subscription(live)
    ctx = live.app.state.strava
    _connected_with_history(live, sim)
    sim.delete_activity(RUNNER, 5003, wait=True)
    _spend_background_share(ctx, clock)
    [job] = live.jobs
    with pytest.raises(BudgetExceeded):
        run_job(ctx, job)  # the worker re-sends it with this delay; it is not dropped
    with sessions() as session:
        assert session.get(Activity, 5003) is not None  # not deleted unconfirmed
    assert [status for status, _ in _statuses(sessions)] == ["received"]
    clock.advance(15 * 60)  # the next rate window
    run_job(ctx, job)
    with sessions() as session:
        assert session.get(Activity, 5003) is None


def _spend_background_share(ctx: StravaContext, clock: SimClock) -> None:
    """As other background work would: until this window's share is gone."""
    for _ in range(ctx.budget.limits().read_window + 1):
        try:
            ctx.budget.reserve(Priority.BACKGROUND, clock.now())
        except BudgetExceeded:
            return
    raise AssertionError("the background share never ran out")


# ------------------------------------------------------------------ the callback's secret


def test_wrong_secret_is_refused_and_records_nothing(
    live: LiveApp, sessions: sessionmaker[Session]
) -> None:
    subscription_id = _live_subscription(live)
    secret = webhook_secret(live.app.state.strava.settings)
    for guess in ("0" * len(secret), secret[:-1], secret.upper(), secret + "0"):
        answer = _post(live, _event(subscription_id=subscription_id), f"/strava/webhook/{guess}")
        assert answer.status_code == 403, guess
        assert answer.json() == {"error": "wrong webhook secret"}
        assert row_counts(sessions)["webhook_events"] == 0
    assert live.jobs == []


def test_the_old_callback_works_until_the_operator_resubscribes(
    live: LiveApp, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    with sessions.begin() as session:  # a subscription made by the previous release
        session.add(
            StravaSubscription(
                subscription_id=SUBSCRIPTION_ID, callback_url=f"{live.url}/strava/webhook"
            )
        )
    with caplog.at_level(logging.WARNING, logger="strideguard.integrations.strava.webhook_routes"):
        first = _post(live, _event(), "/strava/webhook")
        second = _post(live, _event(object_id=6002), "/strava/webhook")
    assert (first.status_code, second.status_code) == (200, 200)
    assert row_counts(sessions)["webhook_events"] == 2
    warnings = [r for r in caplog.records if "strideguard strava subscribe" in r.getMessage()]
    assert len(warnings) == 1  # said once, not once per event
    subscription_id = _live_subscription(live)  # the operator re-subscribes
    live.app.state.known_subscription = None  # as after the cached minute has passed
    moved = _post(live, _event(object_id=6003, subscription_id=subscription_id), "/strava/webhook")
    assert moved.status_code == 403
    assert "strideguard strava subscribe" in moved.json()["error"]
    assert row_counts(sessions)["webhook_events"] == 2
    assert _post(live, _event(object_id=6003, subscription_id=subscription_id)).status_code == 200


def test_the_secret_never_reaches_a_log_line() -> None:
    secret = "0123456789abcdef" * 2
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "POST", f"/strava/webhook/{secret}?x=1", "1.1", 200),
        None,
    )
    line = RedactingFormatter("%(message)s").format(record)
    assert secret not in line
    assert "/strava/webhook/***" in line


# ------------------------------------------------------------------ guessing is throttled


def _guess(client: TestClient, subscription_id: int, path: str) -> int:
    answer = client.post(path, content=_event(subscription_id=subscription_id))
    return int(answer.status_code)


def test_guessing_subscription_ids_or_secrets_gets_429(
    subscribed: AppUnderTest, sessions: sessionmaker[Session]
) -> None:
    path = webhook_path(subscribed.app.state.settings)
    with TestClient(subscribed.app) as client:
        answers = [_guess(client, SUBSCRIPTION_ID + n, path) for n in range(1, FAILURES_ALLOWED)]
        answers.append(_guess(client, SUBSCRIPTION_ID, "/strava/webhook/not-the-secret"))
        assert answers == [403] * FAILURES_ALLOWED
        # the guesser is stopped, on every path, even when the next id would have been right
        stopped = client.post(path, content=_event(subscription_id=SUBSCRIPTION_ID + 99))
        assert stopped.status_code == 429
        assert int(stopped.headers["Retry-After"]) > 0
        assert _guess(client, SUBSCRIPTION_ID, "/strava/webhook") == 429
        assert _guess(client, SUBSCRIPTION_ID, "/strava/webhook/another-guess") == 429
        assert row_counts(sessions)["webhook_events"] == 0
        # whoever holds the secret has nothing left to guess: Strava's events are never slowed
        assert _guess(client, SUBSCRIPTION_ID, path) == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_throttle_is_shared_by_every_web_process_on_redis(
    settings: Settings,
    ctx: StravaContext,
    sessions: sessionmaker[Session],
    redis_url: str,
    redis_namespace: str,
) -> None:
    shared = settings.model_copy(
        update={"redis_url": redis_url, "queue_namespace": redis_namespace}
    )
    ctx.settings = shared
    first, second = AppUnderTest(shared, ctx), AppUnderTest(shared, ctx)
    with sessions.begin() as session:
        session.add(StravaSubscription(subscription_id=SUBSCRIPTION_ID, callback_url="x"))
    path = webhook_path(shared)
    with TestClient(first.app) as one, TestClient(second.app) as other:
        assert _guess(other, SUBSCRIPTION_ID, path) == 200  # a genuine event passes
        for n in range(FAILURES_ALLOWED):
            assert _guess(one, SUBSCRIPTION_ID + 1 + n, path) == 403
        # the other process saw those refusals
        assert _guess(other, SUBSCRIPTION_ID + 99, path) == 429
        assert _guess(other, SUBSCRIPTION_ID, "/strava/webhook") == 429
    assert isinstance(first.app.state.intake_throttle, RedisThrottle)


def test_memory_throttle_forgets_a_client_when_the_window_ends() -> None:
    now = [1000.0 * WINDOW_S]
    throttle = MemoryThrottle(clock=lambda: now[0])
    for _ in range(FAILURES_ALLOWED):
        assert not throttle.blocked("203.0.113.9")
        throttle.refused("203.0.113.9")
    assert throttle.blocked("203.0.113.9")
    assert not throttle.blocked("198.51.100.1")  # per client address
    now[0] += WINDOW_S
    assert not throttle.blocked("203.0.113.9")


# ------------------------------------------------------------------ forged events do not pile up


def test_the_daily_purge_drops_handled_events_after_their_retention(
    app_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    runtime = start_runtime(app_settings)
    now = runtime.clock()
    days = app_settings.webhook_event_retention_days
    old = now - dt.timedelta(days=days + 1)
    with sessions.begin() as session:
        for object_id, status, received in (
            (1, "ignored", old),  # a forged event for a stranger
            (2, "forged", old),
            (3, "processed", old),
            (4, "received", old),  # still waiting: work not done yet
            (5, "forged", now - dt.timedelta(days=days - 1)),
        ):
            session.add(
                WebhookEvent(
                    subscription_id=SUBSCRIPTION_ID,
                    object_type="activity",
                    object_id=object_id,
                    aspect_type="delete",
                    owner_id=RUNNER,
                    event_time=1772618850,
                    updates={},
                    status=status,
                    received_at=received,
                )
            )
    try:
        sync_jobs.purge_expired(runtime)
    finally:
        runtime.close()
    with sessions() as session:
        left = sorted(session.scalars(select(WebhookEvent.object_id)))
    assert left == [4, 5]
