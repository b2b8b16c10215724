"""Connecting through the browser: our app for real, Strava as the simulator over HTTP."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.connect_receipt import RECEIPT_COOKIE
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.jobs import BackgroundRunner, StravaJob, run_job
from strideguard.integrations.strava.oauth import BROWSER_COOKIE
from strideguard.integrations.strava.simulator import Simulator
from strideguard.models import Activity, Athlete, OAuthState, StravaConnection
from strideguard.settings import Settings
from strideguard.web.app import create_app
from tests.contrast import AA_TEXT, contrast
from tests.strava.conftest import (
    RUNNER,
    AppUnderTest,
    click_connect,
    follow_back,
    row_counts,
    strava_answers,
    strava_round_trip,
)


def test_connect_page_has_a_strava_branded_button(browser: TestClient) -> None:
    page = browser.get("/connect")
    assert page.status_code == 200
    assert "Connect with Strava" in page.text
    assert '<link rel="stylesheet" href="/static/style.css">' in page.text
    assert "<script" not in page.text
    # The button's orange is the shared stylesheet's, dark enough for white text (AA);
    # Strava's own #FC5200 gives white text only 3.3:1.
    css = browser.get("/static/style.css").text
    orange = re.search(r"--strava: (#[0-9a-f]{6})", css)
    assert orange is not None
    assert contrast("#ffffff", orange.group(1)) >= AA_TEXT
    assert contrast("#ffffff", "#FC5200") < AA_TEXT


def test_full_scope_connects_stores_encrypted_tokens_and_starts_backfill(
    browser: TestClient, app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    start = click_connect(browser)
    cookie = start.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "scope=read%2Cactivity%3Aread_all" in start.headers["location"]

    page = follow_back(browser, strava_answers(start))
    assert page.status_code == 200
    assert "last 6 weeks now, and every Monday" in page.text
    assert 'name="email"' in page.text
    with sessions() as session:
        athlete = session.scalars(select(Athlete)).one()
        connection = session.scalars(select(StravaConnection)).one()
    assert athlete.strava_athlete_id == RUNNER
    assert athlete.firstname == "Ada"
    assert athlete.units == "mi"  # measurement_preference "feet"
    assert "activity:read_all" in connection.scopes
    assert app.jobs == [StravaJob("backfill", athlete.id)]

    form_token = page.text.split('name="token" value="')[1].split('"')[0]
    saved = browser.post("/connect/email", data={"token": form_token, "email": "ada@example.org"})
    assert saved.status_code == 200
    assert "ada@example.org" in saved.text
    with sessions() as session:
        assert session.scalars(select(Athlete.email)).one() == "ada@example.org"


def test_backfill_after_connect_reads_the_window_in_one_request(
    browser: TestClient,
    app: AppUnderTest,
    ctx: StravaContext,
    sim: Simulator,
    sessions: sessionmaker[Session],
) -> None:
    follow_back(browser, strava_round_trip(browser))
    before = len(sim.requests)
    run_job(ctx, app.jobs[0])
    api_calls = [
        r for r in sim.requests[before:] if r.path.startswith("/api/v3/athlete/activities")
    ]
    assert len(api_calls) == 1
    with sessions() as session:
        stored = session.scalars(select(Activity)).all()
        connection = session.scalars(select(StravaConnection)).one()
    # 20 public runs + 1 private run inside the window; the 10-week-old run is outside it
    assert len(stored) == 21
    assert connection.backfilled_at is not None


def test_bad_email_is_refused_with_a_clear_message(
    browser: TestClient, sessions: sessionmaker[Session]
) -> None:
    page = follow_back(browser, strava_round_trip(browser))
    form_token = page.text.split('name="token" value="')[1].split('"')[0]
    refused = browser.post("/connect/email", data={"token": form_token, "email": "not an email"})
    assert refused.status_code == 400
    assert "doesn&#39;t look like an email address" in refused.text
    tampered = browser.post("/connect/email", data={"token": form_token + "x", "email": "a@b.co"})
    assert tampered.status_code == 400
    with sessions() as session:
        assert session.scalars(select(Athlete.email)).one() is None


@pytest.mark.parametrize(
    ("ticked", "expected"),
    [
        (["read", "activity:read"], "private"),
        (["read"], "needs to see your activities"),
    ],
)
def test_narrow_scope_explains_what_is_missing_and_stores_nothing(
    browser: TestClient,
    app: AppUnderTest,
    sim: Simulator,
    sessions: sessionmaker[Session],
    ticked: list[str],
    expected: str,
) -> None:
    sim.set_consent(approve=True, scopes=ticked)
    page = follow_back(browser, strava_round_trip(browser))
    assert page.status_code == 200
    assert expected in page.text
    assert "/connect/strava?retry=1" in page.text
    counts = row_counts(sessions)
    assert counts["athletes"] == 0
    assert counts["strava_connections"] == 0
    assert app.jobs == []


def test_denied_access_gets_a_friendly_page_with_retry(
    browser: TestClient, app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    sim.set_consent(approve=False)
    page = follow_back(browser, strava_round_trip(browser))
    assert page.status_code == 200
    assert "nothing was connected" in page.text
    assert "/connect/strava?retry=1" in page.text
    assert row_counts(sessions)["athletes"] == 0


def test_replayed_callback_is_refused(browser: TestClient, sessions: sessionmaker[Session]) -> None:
    click = click_connect(browser)
    cookie = browser.cookies.get(BROWSER_COOKIE)
    answer = strava_answers(click)
    assert follow_back(browser, answer).status_code == 200
    # the same browser (cookie restored, but without the receipt of the finished connect)
    # sends the same reply again: the nonce is spent
    browser.cookies.set(BROWSER_COOKIE, cookie or "", path="/strava/callback")
    browser.cookies.delete(RECEIPT_COOKIE)
    replay = follow_back(browser, answer)
    assert replay.status_code == 400
    assert "already used" in replay.text
    with sessions() as session:
        assert len(session.scalars(select(StravaConnection)).all()) == 1


def test_reloading_the_connected_page_shows_it_again(
    browser: TestClient, app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    """A reload (or Back) repeats the callback URL: the page says connected again instead of
    "started in another browser... nothing was stored", and nothing happens twice."""
    answer = strava_round_trip(browser)
    first = follow_back(browser, answer)
    assert "You're connected, Ada." in first.text
    exchanges = len([r for r in sim.requests if r.path == "/oauth/token"])
    again = follow_back(browser, answer)
    assert again.status_code == 200
    assert "You're connected, Ada." in again.text
    assert "another browser" not in again.text
    assert "Nothing was stored" not in again.text
    assert 'name="email"' in again.text  # the email form still works from the reloaded page
    assert len([r for r in sim.requests if r.path == "/oauth/token"]) == exchanges
    assert len(app.jobs) == 1
    with sessions() as session:
        assert len(session.scalars(select(StravaConnection)).all()) == 1
    # Another browser with the same URL is still refused.
    with TestClient(app.app) as stranger:
        assert follow_back(stranger, answer).status_code == 400


def test_reconnecting_keeps_the_units_the_runner_chose(
    browser: TestClient, sessions: sessionmaker[Session]
) -> None:
    follow_back(browser, strava_round_trip(browser))
    with sessions.begin() as session:
        athlete = session.scalars(select(Athlete)).one()
        assert athlete.units == "mi"  # Strava's preference on the first connect
        athlete.units = "km"  # then the runner chose kilometres
    page = follow_back(browser, strava_answers(click_connect(browser)))
    assert "You're connected" in page.text
    with sessions() as session:
        assert session.scalars(select(Athlete.units)).one() == "km"


def test_state_problems_are_refused_and_store_nothing(
    app: AppUnderTest,
    ctx: StravaContext,
    sim: Simulator,
    clock: object,
    sessions: sessionmaker[Session],
) -> None:
    # missing cookie: a different browser reaches the callback
    with TestClient(app.app) as starter, TestClient(app.app) as stranger:
        answer = strava_round_trip(starter)
        refused = follow_back(stranger, answer)
        assert refused.status_code == 400
        assert "another browser" in refused.text
    # tampered state
    with TestClient(app.app) as browser:
        answer = strava_round_trip(browser)
        location = answer.headers["location"].replace("state=", "state=x")
        refused = browser.get(location.split("testserver", 1)[1])
        assert refused.status_code == 400
        assert "altered" in refused.text
    # expired: eleven minutes between the click and the callback
    with TestClient(app.app) as browser:
        answer = strava_round_trip(browser)
        sim.clock.advance(11 * 60)
        refused = follow_back(browser, answer)
        assert refused.status_code == 400
        assert "ten minutes" in refused.text
    # no state at all
    with TestClient(app.app) as browser:
        assert browser.get("/strava/callback?code=abc&scope=read").status_code == 400
    counts = row_counts(sessions)
    assert counts["athletes"] == 0
    assert counts["strava_connections"] == 0
    with sessions() as session:
        assert len(session.scalars(select(OAuthState)).all()) >= 3


def test_embedded_default_runs_the_backfill_in_the_background(
    settings: Settings, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    app = create_app(settings)
    app.state.strava = ctx  # shares the simulator's clock; no enqueue seam set
    with TestClient(app) as browser:
        page = follow_back(browser, strava_round_trip(browser))
        assert page.status_code == 200
        runner = app.state.strava_enqueue
        assert isinstance(runner, BackgroundRunner)
        runner.drain()
        runner.shutdown()
    with sessions() as session:
        assert len(session.scalars(select(Activity)).all()) == 21
