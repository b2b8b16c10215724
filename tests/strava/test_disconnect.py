"""Disconnecting from the preferences page: Strava is told, and nothing of the athlete stays."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from stravalib import exc as strava_exc

from strideguard.checkins import record_checkin
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.disconnect import revoke_grant
from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.sync import backfill
from strideguard.links import make_link_token
from strideguard.models import Alert, DeliveryRecord, Evaluation, WebhookEvent
from tests.strava.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    OTHER,
    RUNNER,
    START,
    connect_directly,
    row_counts,
)


def _everything_for(ctx: StravaContext, sim: Simulator, strava_id: int) -> int:
    """A connected athlete with activities, gear, an event, an evaluation, an alert, an email
    and a back-pain check-in."""
    athlete_id = connect_directly(ctx, sim, strava_id)
    backfill(ctx, athlete_id)
    week = dt.date(2026, 2, 23)
    with ctx.sessions.begin() as session:
        outbox = DeliveryRecord(
            athlete_id=athlete_id, week_start=week, message_id=f"<{strava_id}@sg>"
        )
        session.add(outbox)
        session.flush()
        session.add(Evaluation(athlete_id=athlete_id, week_start=week, due_at=START))
        record_checkin(session, athlete_id, week, 5, "stiff after the long run")
        session.add(
            Alert(
                athlete_id=athlete_id, week_start=week, rule_id="no_rest_day", outbox_id=outbox.id
            )
        )
        session.add(
            WebhookEvent(
                subscription_id=1,
                object_type="activity",
                object_id=strava_id,
                aspect_type="create",
                owner_id=strava_id,
                event_time=1,
            )
        )
    return athlete_id


def test_disconnect_revokes_and_deletes_every_row_of_the_athlete(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = _everything_for(ctx, sim, RUNNER)
    bystander = _everything_for(ctx, sim, OTHER)
    before = row_counts(sessions)
    token = make_link_token(athlete_id, "preferences", ctx.settings)
    page = browser.post("/strava/disconnect", data={"token": token})
    assert page.status_code == 200
    assert "You're disconnected" in page.text
    assert "didn't answer" not in page.text
    assert [(r.path, r.status) for r in sim.requests if "/oauth/" in r.path] == [
        ("/oauth/revoke", 200)
    ]
    after = row_counts(sessions)
    # exactly the bystander's rows remain: every table lost the disconnected athlete's share
    assert after["athletes"] == 1
    assert after["strava_connections"] == 1
    assert after["activities"] == 450
    assert after["gear"] == 0
    for table in ("evaluations", "alerts", "deliveries", "webhook_events", "back_pain_checkins"):
        assert after[table] == before[table] // 2, table
    # the bystander is untouched and can still sync
    assert backfill(ctx, bystander).fetched == 450


def test_disconnect_when_strava_is_down_still_deletes_and_says_so(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = _everything_for(ctx, sim, RUNNER)
    sim.fail_next("/oauth/revoke", 503)
    token = make_link_token(athlete_id, "preferences", ctx.settings)
    page = browser.post("/strava/disconnect", data={"token": token})
    assert page.status_code == 200
    assert "strava.com/settings/apps" in page.text
    counts = row_counts(sessions)
    assert counts["athletes"] == 0
    assert counts["activities"] == 0


def test_disconnect_refuses_a_tampered_or_wrong_purpose_link(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    for token in (
        make_link_token(athlete_id, "preferences", ctx.settings) + "x",
        make_link_token(athlete_id, "unsubscribe", ctx.settings),
    ):
        assert browser.post("/strava/disconnect", data={"token": token}).status_code == 400
    assert row_counts(sessions)["athletes"] == 1


def _disconnect(browser: TestClient, ctx: StravaContext, athlete_id: int) -> str:
    token = make_link_token(athlete_id, "preferences", ctx.settings)
    page = browser.post("/strava/disconnect", data={"token": token})
    assert page.status_code == 200
    return str(page.text)


def test_disconnect_falls_back_to_deauthorize_where_strava_has_no_revoke(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    grant = sim.issue_tokens(OTHER)  # a bystander's grant must survive
    sim.retire("revoke")  # Strava as it was before June 2026
    page = _disconnect(browser, ctx, athlete_id)
    assert "didn't answer" not in page
    assert [(r.path, r.status) for r in sim.requests if "/oauth/" in r.path] == [
        ("/oauth/revoke", 404),
        ("/oauth/deauthorize", 200),
    ]
    assert row_counts(sessions)["athletes"] == 0
    assert make_client(sim.base_url, grant["access_token"]).get_athlete().id == OTHER


def test_strava_after_1_june_2027_new_api_base_revoke_and_header_tokens_only(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    """Strava with the old API path, oauth/deauthorize and token parameters retired; the app
    set to the new API base (the simulator serves it at its root, as api-v3.strava.com)."""
    sim.retire("deauthorize", "api/v3 path", "token parameters")
    ctx.settings = ctx.settings.model_copy(update={"strava_api_url": sim.base_url})
    athlete_id = connect_directly(ctx, sim)
    assert backfill(ctx, athlete_id).fetched == 21
    page = _disconnect(browser, ctx, athlete_id)
    assert "didn't answer" not in page
    paths = [r.path for r in sim.requests]
    assert "/athlete/activities" in paths
    assert not [p for p in paths if p.startswith("/api/v3")]
    assert {r.status for r in sim.requests} == {200}
    assert row_counts(sessions)["athletes"] == 0


def test_a_revoked_grant_is_dead_on_strava(ctx: StravaContext, sim: Simulator) -> None:
    """Revoking the access token ends the refresh token too (one grant)."""
    grant = sim.issue_tokens(RUNNER)
    revoke_grant(ctx, grant["access_token"])
    with pytest.raises(strava_exc.AccessUnauthorized):
        make_client(sim.base_url, grant["access_token"]).get_athlete()
    with pytest.raises(strava_exc.Fault):
        make_client(sim.base_url).refresh_access_token(
            CLIENT_ID, CLIENT_SECRET, grant["refresh_token"]
        )
