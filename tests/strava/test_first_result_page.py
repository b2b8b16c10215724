"""The connected page says what was found: while the backfill runs, that it runs and where
the result goes; once done, the runs found. The email form posts, redirects and gets a status
page that reloads itself (no script) until the welcome is on its way."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.jobs import run_job
from tests.strava.conftest import AppUnderTest, follow_back, strava_round_trip

REFRESH = '<meta http-equiv="refresh" content="10">'


def test_connected_and_status_pages_tell_the_first_result(
    browser: TestClient, app: AppUnderTest, ctx: StravaContext
) -> None:
    connected = follow_back(browser, strava_round_trip(browser))
    assert connected.status_code == 200
    assert "What we found" in connected.text
    assert "reading your last 6 weeks from Strava now" in connected.text
    assert "Tell us your email address and your first result" in connected.text
    assert REFRESH not in connected.text  # the page with the form never reloads itself
    assert "<script" not in connected.text

    token = connected.text.split('name="token" value="')[1].split('"')[0]
    saved = browser.post(
        "/connect/email", data={"token": token, "email": "ada@example.org"}, follow_redirects=False
    )
    assert saved.status_code == 303
    status_url = saved.headers["location"]
    assert status_url.startswith("/connect/status?token=")
    assert status_url.endswith("&saved=1")

    running = browser.get(status_url)
    assert running.status_code == 200
    assert "Thanks, we'll write to ada@example.org." in running.text
    assert "goes to <strong>ada@example.org</strong>" in running.text
    assert REFRESH in running.text

    run_job(ctx, app.jobs[0])  # the backfill
    done = browser.get(status_url)
    text = re.sub(r"\s+", " ", done.text)
    # The simulator's runner: 21 runs in the six-week window (one of them private).
    assert re.search(r"\d+ runs in your last 6 weeks, [\d.]+ mi in all; the longest", text)
    assert "is on its way to <strong>ada@example.org</strong>" in text
    assert "not medical advice" in text
    assert REFRESH in text  # until the welcome has gone

    tampered = browser.get(status_url.replace("token=", "token=x"))
    assert tampered.status_code == 400
