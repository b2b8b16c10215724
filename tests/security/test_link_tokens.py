"""Email-link and form tokens: a bad token changes nothing, and a token for runner A never
changes runner B, whatever else the request says.

Every form that changes something is attacked: unsubscribe, mute, pause, preferences,
disconnect (all email links) and the connect email form. The database of both runners is
compared before and after; tests/notifier/test_pages.py covers the pages' wording.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.connect_email import email_form_token
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import Simulator
from strideguard.links import DAY_S, Purpose, make_link_token
from strideguard.models import Activity, Athlete, StravaConnection
from strideguard.settings import Settings
from strideguard.web.email_pages.routes import csrf_token
from tests.strava.conftest import OTHER, RUNNER, AppUnderTest, connect_directly

MUTED_RULE = "no_rest_day"


@dataclass(frozen=True)
class Form:
    """A state-changing form: its path, how its token is made, and its other fields."""

    path: str
    make_token: Callable[[StravaContext, int], str]
    fields: Callable[[Settings, str, int], dict[str, str]]
    refusal: str  # words every refusal page of this form shows


def _link(purpose: Purpose) -> Callable[[StravaContext, int], str]:
    extra = {"rule_id": MUTED_RULE} if purpose == "mute" else None
    return lambda ctx, athlete_id: make_link_token(athlete_id, purpose, ctx.settings, extra)


def _nothing(settings: Settings, token: str, other_id: int) -> dict[str, str]:
    return {"athlete_id": str(other_id)}


def _preferences(settings: Settings, token: str, other_id: int) -> dict[str, str]:
    # The CSRF value is computed for whatever token is sent, so only the token check stands.
    return {
        "csrf": csrf_token(token, settings),
        "email": "attacker@example.org",
        "units": "mi",
        "timezone": "Asia/Tokyo",
        "pause_weeks": "12",
        "athlete_id": str(other_id),
    }


FORMS = {
    "unsubscribe": Form(
        "/email/unsubscribe", _link("unsubscribe"), _nothing, "latest strideguard email"
    ),
    "mute": Form("/email/mute", _link("mute"), _nothing, "latest strideguard email"),
    "pause": Form(
        "/email/pause",
        _link("pause"),
        lambda s, t, other: {"weeks": "12", "athlete_id": str(other)},
        "latest strideguard email",
    ),
    "preferences": Form(
        "/email/preferences", _link("preferences"), _preferences, "latest strideguard email"
    ),
    "disconnect": Form(
        "/strava/disconnect", _link("preferences"), _nothing, "couldn&#39;t disconnect you"
    ),
    "connect email": Form(
        "/connect/email",
        email_form_token,
        lambda s, t, other: {"email": "attacker@example.org", "athlete_id": str(other)},
        "couldn&#39;t save your email",
    ),
}


@dataclass(frozen=True)
class Runners:
    a: int
    b: int


@pytest.fixture
def runners(ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]) -> Runners:
    a, b = connect_directly(ctx, sim, RUNNER), connect_directly(ctx, sim, OTHER)
    with sessions.begin() as session:
        for athlete_id in (a, b):
            athlete = session.get_one(Athlete, athlete_id)
            athlete.email = f"runner{athlete_id}@example.com"
            athlete.timezone = "Europe/Oslo"
        session.add(
            Activity(
                strava_id=1,
                athlete_id=b,
                sport_type="Run",
                start_date=dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC),
                start_date_local=dt.datetime(2026, 3, 2, 8),
                timezone="Europe/Oslo",
                distance_m=8000,
                moving_time_s=2400,
                elevation_gain_dm=450,
                trainer=False,
                manual=False,
            )
        )
    return Runners(a, b)


def _state(sessions: sessionmaker[Session], athlete_id: int) -> dict[str, Any]:
    """Everything a form could change about one runner."""
    with sessions() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            return {}
        return {
            "email": athlete.email,
            "email_status": athlete.email_status,
            "units": athlete.units,
            "timezone": athlete.timezone,
            "muted_rules": list(athlete.muted_rules),
            "paused_until": athlete.paused_until,
            "connections": len(
                session.scalars(
                    select(StravaConnection.id).where(StravaConnection.athlete_id == athlete_id)
                ).all()
            ),
            "activities": len(
                session.scalars(
                    select(Activity.strava_id).where(Activity.athlete_id == athlete_id)
                ).all()
            ),
        }


def _deauthorizations(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.path == "/oauth/deauthorize")


# ------------------------------------------------------------------ bad tokens


def _tampered(token: str, ctx: StravaContext, a: int, b: int) -> str:
    payload, _, signature = token.rpartition(".")
    return f"{payload}.{signature[::-1]}"


def _renamed_to_b(token: str, ctx: StravaContext, a: int, b: int) -> str:
    """A's token with the athlete id in its payload rewritten to B; A's signature kept."""
    payload, *rest = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded["athlete_id"] = b
    forged = base64.urlsafe_b64encode(json.dumps(decoded, separators=(",", ":")).encode())
    return ".".join([forged.decode().rstrip("="), *rest])


def _other_key(token: str, ctx: StravaContext, a: int, b: int) -> str:
    return make_link_token(b, "unsubscribe", Settings(SECRET_KEY="attacker-" + "k" * 40))


def _other_purpose(form: Form) -> Callable[[str, StravaContext, int, int], str]:
    def make(token: str, ctx: StravaContext, a: int, b: int) -> str:
        if form.path == "/email/unsubscribe":
            return make_link_token(b, "pause", ctx.settings)
        if form.path == "/connect/email":
            return make_link_token(b, "preferences", ctx.settings)
        return make_link_token(b, "unsubscribe", ctx.settings)

    return make


@pytest.fixture
def long_ago(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], str]], str]:
    """Mint a token as if 91 days ago (older than every link's and form's lifetime)."""

    def mint(make: Callable[[], str]) -> str:
        with monkeypatch.context() as patch:
            patch.setattr(
                TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 91 * DAY_S
            )
            return make()

    return mint


BAD_TOKENS = ["tampered", "renamed to B", "expired", "other purpose", "other key", "missing"]


# What a token may change is decided before the database is touched: one database will do.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("form_name", list(FORMS))
def test_bad_tokens_change_nobody_and_a_token_for_a_changes_a_only(
    app: AppUnderTest,
    ctx: StravaContext,
    sim: Simulator,
    sessions: sessionmaker[Session],
    runners: Runners,
    long_ago: Callable[[Callable[[], str]], str],
    form_name: str,
) -> None:
    form = FORMS[form_name]
    a, b = runners.a, runners.b
    good = form.make_token(ctx, b)
    tokens = {
        "tampered": _tampered(good, ctx, a, b),
        "renamed to B": _renamed_to_b(form.make_token(ctx, a), ctx, a, b),
        "expired": long_ago(lambda: form.make_token(ctx, b)),
        "other purpose": _other_purpose(form)(good, ctx, a, b),
        "other key": _other_key(good, ctx, a, b),
        "missing": "",
    }
    assert list(tokens) == BAD_TOKENS
    before = {a: _state(sessions, a), b: _state(sessions, b)}
    with TestClient(app.app) as client:
        for bad, token in tokens.items():
            fields = form.fields(ctx.settings, token, b)
            if token:
                fields["token"] = token
            answer = client.post(form.path, data=fields)
            assert answer.status_code in (400, 403, 422), (bad, answer.text)
            if answer.status_code != 422:  # 422: no token field at all; no page sends that
                assert form.refusal in answer.text, bad
            assert {a: _state(sessions, a), b: _state(sessions, b)} == before, bad
        assert _deauthorizations(sim) == 0
        # A's own valid token, with B's id in the form and in the query string, where a
        # careless handler might read it: the request acts, on A only.
        token = form.make_token(ctx, a)
        fields = {**form.fields(ctx.settings, token, b), "token": token}
        answer = client.post(f"{form.path}?athlete_id={b}&token=", data=fields)
    assert answer.status_code == 200, answer.text
    assert _state(sessions, b) == before[b]
    assert _state(sessions, a) != before[a]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_forms_echo_hostile_input_escaped(
    app: AppUnderTest, ctx: StravaContext, runners: Runners
) -> None:
    """The forms show what was typed back with the error; it must come back as text."""
    script = '"><script>alert(document.cookie)</script>'
    preferences = make_link_token(runners.a, "preferences", ctx.settings)
    with TestClient(app.app) as client:
        pages = [
            client.post(
                "/connect/email",
                data={"token": email_form_token(ctx, runners.a), "email": script},
            ),
            client.post(
                "/email/preferences",
                data={
                    "token": preferences,
                    "csrf": csrf_token(preferences, ctx.settings),
                    "email": script,
                    "units": script,
                    "timezone": script,
                    "pause_weeks": script,
                    "muted_rules": [script],
                },
            ),
        ]
    for page in pages:
        assert page.status_code == 400
        assert "<script>" not in page.text
        assert "&lt;script&gt;" in page.text
