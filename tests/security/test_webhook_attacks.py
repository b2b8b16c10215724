"""Webhook attacks: whatever reaches /strava/webhook, only a real event of our subscription
is recorded and enqueued, and nothing else makes the app fail (no 500).

tests/strava/test_webhooks.py covers the malformed shapes over uvicorn; these are the hostile
ones: bodies built to exhaust the parser or the database column, and forged handshakes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from integrations.strava.webhooks import MAX_BODY_BYTES
from strideguard.models import StravaSubscription
from tests.strava.conftest import RUNNER, VERIFY_TOKEN, AppUnderTest, row_counts

SUBSCRIPTION_ID = 120475


@pytest.fixture
def subscribed(app: AppUnderTest, sessions: sessionmaker[Session]) -> AppUnderTest:
    with sessions.begin() as session:
        session.add(
            StravaSubscription(
                subscription_id=SUBSCRIPTION_ID, callback_url="http://testserver/strava/webhook"
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
                "/strava/webhook", content=body, headers={"Content-Type": "application/json"}
            )
            assert answer.status_code == status, (name, answer.text)
            assert answer.json()["error"], name
            assert row_counts(sessions)["webhook_events"] == 0, name
            assert subscribed.jobs == [], name
        # the control: the same client and subscription, and a genuine event
        answer = client.post("/strava/webhook", content=_event())
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
        answer = client.post("/strava/webhook", content=chunks())
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
    for query in HANDSHAKES:
        answer = browser.get("/strava/webhook", params=query)
        assert answer.status_code in (400, 403), query
        assert "c4a11e" not in answer.text, query
    # an unset STRAVA_WEBHOOK_VERIFY_TOKEN must not match an empty or absent one
    ctx = browser.app.state.strava  # type: ignore[attr-defined]
    ctx.settings = ctx.settings.model_copy(update={"strava_webhook_verify_token": None})
    for query in ({"hub.verify_token": ""}, {}):
        answer = browser.get(
            "/strava/webhook", params={"hub.mode": "subscribe", "hub.challenge": "c4a11e", **query}
        )
        assert answer.status_code == 403, query
        assert "c4a11e" not in answer.text, query
