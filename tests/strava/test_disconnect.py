"""Disconnecting from the preferences page: Strava is told, and nothing of the athlete stays."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from integrations.strava.context import StravaContext
from integrations.strava.simulator import Simulator
from integrations.strava.sync import backfill
from strideguard.checkins import record_checkin
from strideguard.links import make_link_token
from strideguard.models import Alert, Evaluation, OutboxEmail, WebhookEvent
from tests.strava.conftest import OTHER, RUNNER, START, connect_directly, row_counts


def _everything_for(ctx: StravaContext, sim: Simulator, strava_id: int) -> int:
    """A connected athlete with activities, gear, an event, an evaluation, an alert, an email
    and a back-pain check-in."""
    athlete_id = connect_directly(ctx, sim, strava_id)
    backfill(ctx, athlete_id)
    week = dt.date(2026, 2, 23)
    with ctx.sessions.begin() as session:
        outbox = OutboxEmail(athlete_id=athlete_id, week_start=week, message_id=f"<{strava_id}@sg>")
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


def test_disconnect_deauthorizes_and_deletes_every_row_of_the_athlete(
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
    deauthorized = [r for r in sim.requests if r.path.endswith("/oauth/deauthorize")]
    assert [r.status for r in deauthorized] == [200]
    after = row_counts(sessions)
    # exactly the bystander's rows remain: every table lost the disconnected athlete's share
    assert after["athletes"] == 1
    assert after["strava_connections"] == 1
    assert after["activities"] == 450
    assert after["gear"] == 0
    for table in ("evaluations", "alerts", "outbox_emails", "webhook_events", "back_pain_checkins"):
        assert after[table] == before[table] // 2, table
    # the bystander is untouched and can still sync
    assert backfill(ctx, bystander).fetched == 450


def test_disconnect_when_strava_is_down_still_deletes_and_says_so(
    browser: TestClient, ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = _everything_for(ctx, sim, RUNNER)
    sim.fail_next("/api/v3/oauth/deauthorize", 503)
    sim.fail_next("/oauth/deauthorize", 503)
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
