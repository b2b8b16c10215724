"""The admin view: login, throttling, cookie flags, CSRF, and what the dashboard shows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard.models import (
    AdminLoginFailure,
    Alert,
    Athlete,
    DeliveryRecord,
    Evaluation,
    StravaConnection,
)
from strideguard.passwords import hash_password
from strideguard.settings import Settings
from strideguard.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def client(app_settings: Settings) -> TestClient:
    settings = app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})
    return TestClient(create_app(settings))


def _login(client: TestClient, password: str = PASSWORD) -> tuple[int, str]:
    page = client.get("/admin/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(
        "/admin/login",
        data={"password": password, "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("set-cookie", "")


def test_dashboard_needs_a_login(client: TestClient) -> None:
    response = client.get("/admin", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login"


def test_right_password_opens_the_dashboard_with_safe_cookie(client: TestClient) -> None:
    status, cookie = _login(client)
    assert status == 303
    assert "sg_admin=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # served over plain http here
    page = client.get("/admin")
    assert page.status_code == 200
    assert "Athletes (0)" in page.text
    assert page.headers["cache-control"] == "no-store"


def test_cookie_is_secure_when_served_over_https(app_settings: Settings) -> None:
    settings = app_settings.model_copy(
        update={
            "admin_password_hash": hash_password(PASSWORD),
            "public_base_url": "https://sg.example.org",
        }
    )
    client = TestClient(create_app(settings), base_url="https://testserver")
    status, cookie = _login(client)
    assert status == 303
    assert "Secure" in cookie


def test_login_form_without_its_csrf_cookie_is_refused(client: TestClient) -> None:
    response = client.post("/admin/login", data={"password": PASSWORD, "csrf": "forged"})
    assert response.status_code == 400
    assert "The form expired" in response.text
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_brute_force_is_throttled(client: TestClient, sessions: sessionmaker[Session]) -> None:
    for _ in range(5):
        status, _cookie = _login(client, "wrong password")
        assert status == 401
    status, cookie = _login(client)  # even the right password waits now
    assert status == 429
    assert "sg_admin=" not in cookie
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AdminLoginFailure)) == 5


def test_tampered_session_cookie_is_ignored(client: TestClient) -> None:
    _login(client)
    value = client.cookies.get("sg_admin")
    assert value
    client.cookies.set("sg_admin", value[:-2] + "xx", path="/admin")
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token(client: TestClient) -> None:
    _login(client)
    assert client.post("/admin/logout", data={"csrf": "nope"}).status_code == 403
    page = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post("/admin/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_switched_off_without_a_password_hash(app_settings: Settings) -> None:
    client = TestClient(create_app(app_settings))
    assert "strideguard admin hash-password" in client.get("/admin/login").text
    assert client.post("/admin/login", data={"password": "x", "csrf": "x"}).status_code == 403


def test_dashboard_shows_athletes_outbox_failures_and_alert_counts(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    monday = today - dt.timedelta(days=today.weekday())
    last_week = monday - dt.timedelta(weeks=1)
    with sessions.begin() as session:
        runner = Athlete(strava_athlete_id=111, firstname="Ada", email="ada@example.org")
        revoked = Athlete(strava_athlete_id=222, firstname="Bo", email_status="bounced")
        session.add_all([runner, revoked])
        session.flush()
        for athlete, status in ((runner, "active"), (revoked, "revoked")):
            session.add(
                StravaConnection(
                    athlete_id=athlete.id,
                    access_token_enc=b"x",
                    refresh_token_enc=b"y",
                    expires_at=dt.datetime.now(dt.UTC),
                    scopes="read,activity:read_all",
                    status=status,
                    last_error="refresh refused: connection revoked"
                    if status == "revoked"
                    else None,
                )
            )
        session.add(
            Evaluation(
                athlete_id=runner.id,
                week_start=last_week,
                status="done",
                due_at=dt.datetime.now(dt.UTC),
            )
        )
        session.add_all(
            [
                DeliveryRecord(
                    athlete_id=runner.id,
                    week_start=last_week,
                    message_id="<a@x>",
                    status="sent",
                ),
                DeliveryRecord(
                    athlete_id=runner.id,
                    week_start=last_week - dt.timedelta(weeks=1),
                    message_id="<b@x>",
                    status="pending",
                    attempts=3,
                    last_error="SMTP 451 try again later",
                ),
            ]
        )
        for week, rule in (
            (last_week, "weekly_distance_spike"),
            (last_week - dt.timedelta(weeks=1), "weekly_distance_spike"),
            (last_week, "missed_strength_days"),
            (monday - dt.timedelta(weeks=30), "hill_heavy_week"),  # too old to count
        ):
            session.add(Alert(athlete_id=runner.id, week_start=week, rule_id=rule))
    _login(client)
    page = client.get("/admin").text
    assert "Athletes (2)" in page
    assert "Ada" in page
    assert f"week of {last_week} (done)" in page
    assert "revoked" in page
    assert "refresh refused: connection revoked" in page
    assert "SMTP 451 try again later" in page
    assert re.search(r'<th class="num">pending</th>.*?<th class="num">sent</th>', page, re.S)
    row = re.search(r"<td>weekly_distance_spike</td>(.*?)</tr>", page, re.S)
    assert row is not None
    assert row.group(1).rstrip().endswith('<td class="num">2</td>')
    assert "hill_heavy_week" not in page


def test_dashboard_asks_to_resubscribe_while_strava_uses_the_old_callback(
    client: TestClient, sessions: sessionmaker[Session]
) -> None:
    from strideguard.integrations.strava.subscription import webhook_url
    from strideguard.models import StravaSubscription

    assert _login(client)[0] == 303
    assert "Re-subscribe to Strava webhooks" not in client.get("/admin").text  # none yet
    with sessions.begin() as session:
        session.add(
            StravaSubscription(subscription_id=7, callback_url="https://x.example/strava/webhook")
        )
    assert "Re-subscribe to Strava webhooks" in client.get("/admin").text
    settings = client.app.state.settings  # type: ignore[attr-defined]
    with sessions.begin() as session:  # `strideguard strava subscribe` moved it
        session.execute(update(StravaSubscription).values(callback_url=webhook_url(settings)))
    assert "Re-subscribe to Strava webhooks" not in client.get("/admin").text
