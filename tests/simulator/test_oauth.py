"""OAuth as Strava does it: consent with ticked scopes, single-use codes, refresh rules, 401s."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from stravalib import exc

from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from tests.simulator.conftest import (
    ATHLETE_ID,
    CLIENT_ID,
    OTHER_ATHLETE_ID,
    REDIRECT,
    SECRET,
    authorize,
    connect,
)


def _fault_body(raised: pytest.ExceptionInfo[exc.Fault]) -> Any:
    response = raised.value.response
    assert response is not None
    return response.json()


def test_full_consent_gives_code_scope_and_state_and_a_strava_shaped_token(sim: Simulator) -> None:
    query = authorize(sim, ["read", "activity:read_all"], state="abc123")
    assert query["state"] == ["abc123"]
    assert query["scope"] == ["read,activity:read_all"]
    answer = requests.post(
        f"{sim.base_url}/oauth/token",
        data={
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "code": query["code"][0],
            "grant_type": "authorization_code",
        },
        timeout=5,
    )
    body = answer.json()
    assert answer.status_code == 200
    assert set(body) == {
        "token_type", "expires_at", "expires_in", "refresh_token", "access_token", "athlete"
    }  # fmt: skip
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 21600
    assert body["expires_at"] == int(sim.clock.time()) + 21600
    assert body["athlete"]["id"] == ATHLETE_ID
    assert body["athlete"]["resource_state"] == 2
    assert re.fullmatch(r"[0-9a-f]{40}", body["access_token"])


def test_unticked_scope_is_not_granted_and_read_always_is(sim: Simulator) -> None:
    sim.set_consent(True, scopes=["activity:read"])
    query = authorize(sim, ["read", "activity:read", "activity:read_all"])
    assert query["scope"] == ["read,activity:read"]


def test_denied_consent_redirects_with_access_denied_and_no_code(sim: Simulator) -> None:
    sim.set_consent(False)
    query = authorize(sim, ["read", "activity:read_all"], state="s1")
    assert query == {"state": ["s1"], "error": ["access_denied"]}


def test_consent_page_lists_scopes_and_honours_unticked_boxes(sim: Simulator) -> None:
    sim.show_consent_page()
    url = make_client(sim.base_url).authorization_url(
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        scope=["read", "activity:read", "activity:read_all"],
        state="s2",
    )
    page = requests.get(url, timeout=5)
    assert page.status_code == 200
    assert 'value="activity:read_all"' in page.text
    assert "Authorize" in page.text
    assert "Cancel" in page.text
    # submit the form as a browser would: its hidden fields, one box unticked, another athlete
    form: dict[str, Any] = dict(
        re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text)
    )
    assert form["state"] == "s2"
    form.update(athlete_id=str(OTHER_ATHLETE_ID), scope=["activity:read"], decision="authorize")
    answer = requests.post(
        f"{sim.base_url}/oauth/authorize", data=form, allow_redirects=False, timeout=5
    )
    location = answer.headers["Location"]
    assert "scope=read,activity:read&" in location + "&"
    assert "state=s2" in location
    code = parse_qs(urlsplit(location).query)["code"][0]
    tokens = make_client(sim.base_url).exchange_code_for_token(CLIENT_ID, SECRET, code)
    assert isinstance(tokens, dict)
    assert make_client(sim.base_url, tokens["access_token"]).get_athlete().id == OTHER_ATHLETE_ID
    cancel = requests.post(
        f"{sim.base_url}/oauth/authorize",
        data={**form, "decision": "cancel"},
        allow_redirects=False,
        timeout=5,
    )
    assert "error=access_denied" in cancel.headers["Location"]


def test_unknown_client_id_is_refused_like_strava(sim: Simulator) -> None:
    url = make_client(sim.base_url).authorization_url(client_id=999, redirect_uri=REDIRECT)
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 400
    assert answer.json() == {
        "message": "Bad Request",
        "errors": [{"resource": "Application", "field": "client_id", "code": "invalid"}],
    }


def test_code_works_once(sim: Simulator) -> None:
    code = authorize(sim, ["read", "activity:read"])["code"][0]
    client = make_client(sim.base_url)
    client.exchange_code_for_token(CLIENT_ID, SECRET, code)
    with pytest.raises(exc.Fault) as raised:
        client.exchange_code_for_token(CLIENT_ID, SECRET, code)
    assert _fault_body(raised)["errors"] == [
        {"resource": "RequestToken", "field": "code", "code": "invalid"}
    ]


def test_code_expires_after_ten_minutes(sim: Simulator) -> None:
    fresh = authorize(sim, ["read"])["code"][0]
    stale = authorize(sim, ["read"])["code"][0]
    sim.clock.advance(9 * 60)
    make_client(sim.base_url).exchange_code_for_token(CLIENT_ID, SECRET, fresh)
    sim.clock.advance(61)
    with pytest.raises(exc.Fault):
        make_client(sim.base_url).exchange_code_for_token(CLIENT_ID, SECRET, stale)


def test_wrong_client_secret_is_refused(sim: Simulator) -> None:
    code = authorize(sim, ["read"])["code"][0]
    with pytest.raises(exc.Fault) as raised:
        make_client(sim.base_url).exchange_code_for_token(CLIENT_ID, "wrong", code)
    assert _fault_body(raised)["errors"][0]["field"] == "client_secret"


def test_refresh_keeps_the_token_while_more_than_an_hour_is_left(sim: Simulator) -> None:
    tokens = connect(sim)
    client = make_client(sim.base_url)
    sim.clock.advance(5 * 3600 - 1)  # 1 h 0 min 1 s left
    same = client.refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])
    assert same["access_token"] == tokens["access_token"]
    assert same["refresh_token"] == tokens["refresh_token"]
    assert same["expires_at"] == tokens["expires_at"]
    assert make_client(sim.base_url).protocol.rsession.post(
        f"{sim.base_url}/oauth/token",
        data={"client_id": CLIENT_ID, "client_secret": SECRET,
              "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    ).json()["expires_in"] == 3601  # fmt: skip


def test_refresh_near_expiry_rotates_both_tokens_and_the_old_refresh_token_dies(
    sim: Simulator,
) -> None:
    tokens = connect(sim)
    client = make_client(sim.base_url)
    sim.clock.advance(5 * 3600 + 1)  # less than an hour left
    new = client.refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])
    assert new["access_token"] != tokens["access_token"]
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["expires_at"] == int(sim.clock.time()) + 21600
    assert make_client(sim.base_url, new["access_token"]).get_athlete().id == ATHLETE_ID
    with pytest.raises(exc.Fault) as raised:
        client.refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])
    assert _fault_body(raised)["errors"][0]["field"] == "refresh_token"


def test_expired_token_gets_strava_authorization_error(sim: Simulator) -> None:
    tokens = connect(sim)
    client = make_client(sim.base_url, tokens["access_token"])
    assert client.get_athlete().id == ATHLETE_ID
    sim.clock.advance(6 * 3600)
    with pytest.raises(exc.AccessUnauthorized) as raised:
        client.get_athlete()
    assert _fault_body(raised) == {
        "message": "Authorization Error",
        "errors": [{"resource": "Application", "field": "", "code": "invalid"}],
    }
    # an expired access token can still be refreshed
    make_client(sim.base_url).refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])


def test_revoked_athlete_tokens_stop_working(sim: Simulator) -> None:
    tokens = connect(sim)
    sim.revoke(ATHLETE_ID)
    with pytest.raises(exc.AccessUnauthorized):
        make_client(sim.base_url, tokens["access_token"]).get_athlete()
    with pytest.raises(exc.Fault):
        make_client(sim.base_url).refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])


def test_deauthorize_through_stravalib_revokes_every_token(sim: Simulator) -> None:
    tokens = connect(sim)
    client = make_client(sim.base_url, tokens["access_token"])
    client.deauthorize()
    with pytest.raises(exc.AccessUnauthorized):
        client.get_athlete()
    with pytest.raises(exc.Fault):
        make_client(sim.base_url).refresh_access_token(CLIENT_ID, SECRET, tokens["refresh_token"])


def test_consent_page_is_skipped_for_scopes_already_granted_unless_forced(
    sim: Simulator,
) -> None:
    connect(sim, scopes=["read", "activity:read"])
    sim.show_consent_page(ATHLETE_ID)
    client = make_client(sim.base_url)
    again = client.authorization_url(
        client_id=CLIENT_ID, redirect_uri=REDIRECT, scope=["activity:read"]
    )
    assert requests.get(again, allow_redirects=False, timeout=5).status_code == 302
    more = client.authorization_url(
        client_id=CLIENT_ID, redirect_uri=REDIRECT, scope=["activity:read_all"]
    )
    assert requests.get(more, allow_redirects=False, timeout=5).status_code == 200
    forced = client.authorization_url(
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        scope=["activity:read"],
        approval_prompt="force",
    )
    assert requests.get(forced, allow_redirects=False, timeout=5).status_code == 200


def test_athlete_id_in_the_authorize_url_picks_who_is_signed_in(sim: Simulator) -> None:
    url = make_client(sim.base_url).authorization_url(
        client_id=CLIENT_ID, redirect_uri=REDIRECT, scope=["activity:read"]
    )
    location = requests.get(
        f"{url}&athlete_id={OTHER_ATHLETE_ID}", allow_redirects=False, timeout=5
    ).headers["Location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    exchanged = make_client(sim.base_url).exchange_code_for_token(
        CLIENT_ID, SECRET, code, return_athlete=True
    )
    assert isinstance(exchanged, tuple)
    assert exchanged[1] is not None
    assert exchanged[1].id == OTHER_ATHLETE_ID


# ------------------------------------------------------------------ Strava's 2026/27 changes


def test_the_api_is_served_at_both_bases_until_the_old_path_is_retired(sim: Simulator) -> None:
    token = connect(sim)["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    old = requests.get(f"{sim.base_url}/api/v3/athlete", headers=bearer, timeout=5)
    new = requests.get(f"{sim.base_url}/athlete", headers=bearer, timeout=5)  # api-v3 host form
    assert old.status_code == new.status_code == 200
    assert old.json() == new.json()
    assert "X-RateLimit-Usage" in new.headers  # counted like any API request
    assert make_client(sim.base_url, token, api_url=sim.base_url).get_athlete().id == ATHLETE_ID
    sim.retire("api/v3 path")
    assert (
        requests.get(f"{sim.base_url}/api/v3/athlete", headers=bearer, timeout=5).status_code == 404
    )
    assert make_client(sim.base_url, token, api_url=sim.base_url).get_athlete().id == ATHLETE_ID


def test_a_token_parameter_counts_only_until_strava_retires_it(sim: Simulator) -> None:
    token = connect(sim)["access_token"]
    url = f"{sim.base_url}/api/v3/athlete"
    assert requests.get(url, params={"access_token": token}, timeout=5).status_code == 200
    sim.retire("token parameters")
    assert requests.get(url, params={"access_token": token}, timeout=5).status_code == 401
    assert make_client(sim.base_url, token).get_athlete().id == ATHLETE_ID  # header: still fine


def _revoke(sim: Simulator, token: str, auth: tuple[str, str]) -> requests.Response:
    return requests.post(
        f"{sim.base_url}/oauth/revoke", data={"token": token}, auth=auth, timeout=5
    )


def test_revoke_needs_the_app_credentials_and_ends_the_whole_grant(sim: Simulator) -> None:
    tokens = connect(sim)
    assert _revoke(sim, tokens["refresh_token"], (str(CLIENT_ID), "wrong")).status_code == 401
    assert make_client(sim.base_url, tokens["access_token"]).get_athlete().id == ATHLETE_ID
    assert _revoke(sim, tokens["refresh_token"], (str(CLIENT_ID), SECRET)).status_code == 200
    with pytest.raises(exc.AccessUnauthorized):  # the refresh token took the access token along
        make_client(sim.base_url, tokens["access_token"]).get_athlete()
    assert _revoke(sim, tokens["refresh_token"], (str(CLIENT_ID), SECRET)).status_code == 200
    sim.retire("revoke")
    assert _revoke(sim, tokens["refresh_token"], (str(CLIENT_ID), SECRET)).status_code == 404


def test_deauthorize_answers_404_once_retired(sim: Simulator) -> None:
    token = connect(sim)["access_token"]
    sim.retire("deauthorize")
    with pytest.raises(exc.Fault):
        make_client(sim.base_url, token).deauthorize()
    assert make_client(sim.base_url, token).get_athlete().id == ATHLETE_ID
