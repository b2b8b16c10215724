"""A running simulator with a real athlete history, and the real OAuth dance through stravalib."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from strideguard.integrations.strava.http import authorize_url, make_client
from strideguard.integrations.strava.simulator import SimClock, Simulator

FIXTURES = Path(__file__).parent / "fixtures"
ATHLETE_ID = 26462176  # the owner of the recorded activities
OTHER_ATHLETE_ID = 555
CLIENT_ID = 1234
SECRET = "sim-secret"
REDIRECT = "http://127.0.0.1:9/strava/callback"
START = datetime(2025, 10, 21, 9, 7, 30, tzinfo=UTC)


def recorded_activities() -> list[dict[str, Any]]:
    """The 13 real SummaryActivity objects of the variety fixture."""
    labelled = json.loads((FIXTURES / "summary_activities_variety.json").read_text())
    return [item["activity"] for item in labelled]


def synthetic_runs(count: int, *, first_id: int, end: datetime) -> list[dict[str, Any]]:
    """`count` daily copies of a recorded run, one per day ending at `end`, distinct ids."""
    template = recorded_activities()[0]
    runs = []
    for i in range(count):
        start = end - timedelta(days=i)
        run = dict(template)
        run["id"] = first_id + i
        run["start_date"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        run["start_date_local"] = (start - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
        runs.append(run)
    return runs


def seed() -> list[dict[str, Any]]:
    shoe = json.loads((FIXTURES / "gear_shoe_detailed.json").read_text())
    return [
        {
            "athlete": {
                "id": ATHLETE_ID,
                "firstname": "Recorded",
                "lastname": "Runner",
                "measurement_preference": "meters",
            },
            "activities": recorded_activities(),
            "gear": [shoe],
        },
        {
            "athlete": {"id": OTHER_ATHLETE_ID, "firstname": "Many", "lastname": "Runs"},
            "activities": synthetic_runs(450, first_id=9_000_000, end=START - timedelta(days=1)),
            "gear": [],
        },
    ]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, ticking=False)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    with Simulator(seed(), client_id=CLIENT_ID, client_secret=SECRET, clock=clock) as running:
        yield running


def authorize(sim: Simulator, scopes: list[Any], state: str = "st4te") -> dict[str, list[str]]:
    """Open the authorize URL like a browser and return the query of the redirect back."""
    return authorize_via_browser(sim.base_url, CLIENT_ID, scopes, state)


def authorize_via_browser(
    base_url: str, client_id: int, scopes: list[Any] | None = None, state: str = "st4te"
) -> dict[str, list[str]]:
    url = authorize_url(base_url, client_id, REDIRECT, scope=scopes, state=state)
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT)
    return parse_qs(urlsplit(location).query)


def connect(
    sim: Simulator, athlete_id: int = ATHLETE_ID, scopes: list[Any] | None = None
) -> dict[str, Any]:
    """The full OAuth flow through stravalib; returns the token response as a dict."""
    sim.set_consent(True, athlete_id=athlete_id)
    query = authorize(sim, scopes or ["read", "activity:read_all"])
    client = make_client(sim.base_url)
    exchanged = client.exchange_code_for_token(
        CLIENT_ID, SECRET, query["code"][0], return_athlete=True
    )
    assert isinstance(exchanged, tuple)
    tokens, athlete = exchanged
    assert athlete is not None
    return {**tokens, "athlete_id": athlete.id, "scope": query["scope"][0]}
