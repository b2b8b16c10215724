"""Strava tests: the simulator over real HTTP, our app, and a clock both sides share.

The simulator's clock is frozen and drives token expiry and rate windows; our context reads
the same clock, so a test ages a token by moving one clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.budget import MemoryBudget
from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.integrations.strava.jobs import StravaJob
from strideguard.integrations.strava.simulator import SimClock, Simulator
from strideguard.integrations.strava.subscription import WEBHOOK_PATH, webhook_secret
from strideguard.integrations.strava.tokens import store_grant
from strideguard.models import Athlete, Base
from strideguard.settings import Settings, load_settings
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer, free_port

START = dt.datetime(2026, 3, 4, 10, 7, 30, tzinfo=dt.UTC)  # a Wednesday morning
RUNNER = 134815
OTHER = 26462176
CLIENT_ID = 1234
CLIENT_SECRET = "sim-secret"
VERIFY_TOKEN = "verify-me-please"
SHOE = {"id": "g77", "name": "Trail shoe", "distance": 412345.6, "retired": False, "primary": True}


def run(
    activity_id: int,
    start: dt.datetime,
    *,
    offset_h: int = 1,
    tz: str = "(GMT+01:00) Europe/Oslo",
    distance: float = 8000.4,
    gain: float = 45.36,
    sport: str = "Run",
    gear_id: str | None = "g77",
    private: bool = False,
) -> dict[str, Any]:
    """A SummaryActivity as Strava writes it, GPS and name included (we must drop them)."""
    local = start + dt.timedelta(hours=offset_h)
    return {
        "id": activity_id,
        "resource_state": 2,
        "name": "Secret morning loop",
        "distance": distance,
        "moving_time": 2400,
        "elapsed_time": 2500,
        "total_elevation_gain": gain,
        "type": "Run" if sport == "TrailRun" else sport,
        "sport_type": sport,
        "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "start_date_local": local.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": tz,
        "utc_offset": offset_h * 3600.0,
        "map": {
            "id": f"a{activity_id}",
            "summary_polyline": "y_wwFbstbM@b@DD",
            "resource_state": 2,
        },
        "start_latlng": [59.91, 10.75],
        "end_latlng": [59.92, 10.76],
        "trainer": False,
        "manual": False,
        "private": private,
        "visibility": "only_me" if private else "everyone",
        "gear_id": gear_id,
    }


def runs_every(
    step: dt.timedelta, count: int, *, first_id: int, end: dt.datetime, **kwargs: Any
) -> list[dict[str, Any]]:
    """`count` runs, newest at `end`, one every `step`."""
    return [run(first_id + i, end - step * i, **kwargs) for i in range(count)]


def seed() -> list[dict[str, Any]]:
    runs = runs_every(dt.timedelta(days=1), 20, first_id=5000, end=START - dt.timedelta(hours=20))
    runs.append(run(5999, START - dt.timedelta(days=3), private=True, distance=12000))
    runs.append(run(4000, START - dt.timedelta(weeks=10)))  # outside the lookback window
    return [
        {
            "athlete": {
                "id": RUNNER,
                "firstname": "Ada",
                "lastname": "Lovelace",
                "measurement_preference": "feet",
            },
            "activities": runs,
            "gear": [SHOE],
        },
        {
            "athlete": {"id": OTHER, "firstname": "Many", "measurement_preference": "meters"},
            # a run every two hours: 450 activities inside the six-week window
            "activities": runs_every(
                dt.timedelta(hours=2),
                450,
                first_id=9_000_000,
                end=START - dt.timedelta(hours=2),
                gear_id=None,
            ),
            "gear": [],
        },
    ]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(START, ticking=False)


@pytest.fixture
def sim(clock: SimClock) -> Iterator[Simulator]:
    with Simulator(
        seed(), client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock
    ) as running:
        yield running


def _strava_env(monkeypatch: pytest.MonkeyPatch, sim: Simulator, public_url: str) -> None:
    monkeypatch.setenv("STRAVA_BASE_URL", sim.base_url)
    monkeypatch.setenv("STRAVA_CLIENT_ID", str(CLIENT_ID))
    monkeypatch.setenv("STRAVA_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("STRAVA_WEBHOOK_VERIFY_TOKEN", VERIFY_TOKEN)
    monkeypatch.setenv("PUBLIC_BASE_URL", public_url)


@pytest.fixture
def settings(app_settings: Settings, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Settings:
    _strava_env(monkeypatch, sim, "http://testserver")
    return load_settings()


@pytest.fixture
def ctx(settings: Settings, sessions: sessionmaker[Session], clock: SimClock) -> StravaContext:
    return make_context(settings, sessions, budget=MemoryBudget(), clock=clock.now)


def connect_directly(
    ctx: StravaContext,
    sim: Simulator,
    strava_id: int = RUNNER,
    scopes: str = "read,activity:read_all",
) -> int:
    """An athlete connected without the browser dance (for tests not about OAuth)."""
    grant = sim.issue_tokens(strava_id, scopes.split(","))
    with ctx.sessions.begin() as session:
        athlete = Athlete(strava_athlete_id=strava_id, firstname="Test", email="runner@example.com")
        session.add(athlete)
        session.flush()
        store_grant(session, ctx, athlete.id, grant, scopes)
        return athlete.id


class AppUnderTest:
    """Our FastAPI app with jobs captured instead of run, so tests decide when they run."""

    def __init__(self, settings: Settings, ctx: StravaContext) -> None:
        self.app: FastAPI = create_app(settings)
        self.app.state.strava = ctx
        self.jobs: list[StravaJob] = []
        self.app.state.strava_enqueue = self.jobs.append


@pytest.fixture
def app(settings: Settings, ctx: StravaContext) -> AppUnderTest:
    return AppUnderTest(settings, ctx)


@pytest.fixture
def browser(app: AppUnderTest) -> Iterator[TestClient]:
    with TestClient(app.app) as client:
        yield client


def click_connect(browser: TestClient) -> Any:
    start = browser.get("/connect/strava", follow_redirects=False)
    assert start.status_code == 303
    return start


def strava_answers(start: Any) -> requests.Response:
    """The simulator, as Strava, answers the consent request; it redirects back to us."""
    answer = requests.get(start.headers["location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    return answer


def strava_round_trip(browser: TestClient) -> requests.Response:
    """Click "Connect", let the simulator answer as Strava, and return where it sends us."""
    return strava_answers(click_connect(browser))


def follow_back(browser: TestClient, answer: requests.Response) -> Any:
    back = urlsplit(answer.headers["location"])
    return browser.get(f"{back.path}?{back.query}", follow_redirects=False)


def webhook_path(settings: Settings) -> str:
    """Our webhook callback's path, secret included."""
    return f"{WEBHOOK_PATH}/{webhook_secret(settings)}"


def row_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Rows in every table, to prove that deletion leaves nothing behind."""
    with sessions() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


# ------------------------------------------------------------------ a real server for webhooks


class LiveApp(AppUnderTest):
    """The app served over real HTTP, so the simulator can deliver webhooks to it."""

    def __init__(self, settings: Settings, ctx: StravaContext, port: int) -> None:
        super().__init__(settings, ctx)
        self.server = LiveServer(self.app, port=port)
        self.url = self.server.url

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def live(
    app_settings: Settings,
    sim: Simulator,
    sessions: sessionmaker[Session],
    clock: SimClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[LiveApp]:
    port = free_port()
    _strava_env(monkeypatch, sim, f"http://127.0.0.1:{port}")
    live_settings = load_settings()
    live_ctx = make_context(live_settings, sessions, budget=MemoryBudget(), clock=clock.now)
    server = LiveApp(live_settings, live_ctx, port)
    server.start()
    yield server
    server.stop()
