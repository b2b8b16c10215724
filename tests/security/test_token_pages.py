"""Pages that carry a token are never cached, and a forged Host header cannot redirect a token.

A cached page hands its reusable form token to the next person at that browser or behind that
proxy; a trailing-slash redirect built from the Host header sends the link token to whoever
answers for that name. The real app, through the real connect flow where there is one.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.simulator import Simulator
from strideguard.links import make_link_token
from strideguard.passwords import hash_password
from strideguard.web.email_pages.routes import csrf_token
from tests.strava.conftest import AppUnderTest, connect_directly, follow_back, strava_round_trip

HOSTILE_HOST = "evil.example"


def _form_token(page: Any) -> str:
    return str(page.text).split('name="token" value="')[1].split('"')[0]


def _assert_not_stored(page: Any, what: str) -> None:
    assert page.headers.get("cache-control") == "no-store", what


def test_connect_pages_carrying_the_email_form_token_are_not_cached(browser: TestClient) -> None:
    connected = follow_back(browser, strava_round_trip(browser))
    assert connected.status_code == 200
    token = _form_token(connected)
    _assert_not_stored(connected, "connected page after /strava/callback")
    refused = browser.post("/connect/email", data={"token": token, "email": "not an address"})
    assert refused.status_code == 400
    assert _form_token(refused) != ""  # the form comes back, token and all
    _assert_not_stored(refused, "/connect/email page with an error")
    saved = browser.post("/connect/email", data={"token": token, "email": "ada@example.org"})
    assert saved.status_code == 200
    _assert_not_stored(saved, "/connect/email page after saving")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_email_link_and_admin_pages_with_tokens_are_not_cached(
    app: AppUnderTest, ctx: StravaContext, sim: Simulator
) -> None:
    athlete_id = connect_directly(ctx, sim)
    token = make_link_token(athlete_id, "preferences", ctx.settings)
    app.app.state.settings = ctx.settings.model_copy(
        update={"admin_password_hash": hash_password("correct horse battery")}
    )
    with TestClient(app.app) as client:
        pages = {
            "preferences form": client.get("/email/preferences", params={"token": token}),
            "preferences saved": client.post(
                "/email/preferences",
                data={
                    "token": token,
                    "csrf": csrf_token(token, ctx.settings),
                    "email": "ada@example.org",
                    "units": "km",
                    "timezone": "UTC",
                },
            ),
            "admin login form": client.get("/admin/login"),
        }
    for what, page in pages.items():
        assert page.status_code == 200, what
        assert 'name="csrf"' in page.text, what
        _assert_not_stored(page, what)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/email/preferences/?token=secret-link-token"),
        ("GET", "/connect/?token=secret-link-token"),
        ("POST", "/connect/email/?token=secret-link-token"),
    ],
)
def test_a_hostile_host_header_cannot_make_a_slash_redirect_leave_our_origin(
    app: AppUnderTest, method: str, path: str
) -> None:
    public = app.app.state.settings.public_base_url
    with TestClient(app.app) as client:
        answer = client.request(
            method, path, headers={"Host": HOSTILE_HOST}, follow_redirects=False
        )
    assert answer.status_code == 307
    location = answer.headers["location"]
    assert location.startswith(f"{public}/")
    assert HOSTILE_HOST not in location
    assert location == f"{public}{path.split('?')[0].rstrip('/')}?token=secret-link-token"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_paths_that_are_not_routes_either_way_stay_not_found(app: AppUnderTest) -> None:
    with TestClient(app.app) as client:
        for path in ("/nothing/", "/nothing"):
            answer = client.get(path, headers={"Host": HOSTILE_HOST}, follow_redirects=False)
            assert answer.status_code == 404, path
            assert "location" not in answer.headers, path
        # The client reads "//evil.example/" as another host and asks for "/", which is now the
        # home page: what matters is that nothing redirects anywhere.
        for path in ("//evil.example/", "//evil.example"):
            answer = client.get(path, headers={"Host": HOSTILE_HOST}, follow_redirects=False)
            assert answer.status_code in (200, 404), path
            assert "location" not in answer.headers, path
