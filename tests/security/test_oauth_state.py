"""OAuth callback attacks: every bad `state` is refused before Strava is asked for tokens.

tests/strava/test_connect.py checks each refusal's wording; here each attack is also checked
for what it must not cause: no code exchange with Strava, no athlete, no tokens stored.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from fastapi.testclient import TestClient
from httpx import Response
from itsdangerous import URLSafeSerializer
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.connect_receipt import RECEIPT_COOKIE
from strideguard.integrations.strava.oauth import BROWSER_COOKIE, CALLBACK_PATH
from strideguard.integrations.strava.simulator import Simulator
from tests.strava.conftest import (
    AppUnderTest,
    click_connect,
    follow_back,
    row_counts,
    strava_answers,
    strava_round_trip,
)

Attack = Callable[[AppUnderTest, Simulator], Response]


def _reply(answer: requests.Response) -> dict[str, str]:
    """The query Strava sent back (code, scope, state)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}


def _back(browser: TestClient, answer: requests.Response) -> Response:
    page: Response = follow_back(browser, answer)
    return page


def _callback(browser: TestClient, reply: dict[str, str]) -> Response:
    page: Response = browser.get(f"{CALLBACK_PATH}?{urlencode(reply)}", follow_redirects=False)
    return page


def _code_exchanges(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.path == "/oauth/token")


def _no_cookie(app: AppUnderTest, sim: Simulator) -> Response:
    """The callback reached with a genuine reply but no session: no connect cookie at all."""
    with TestClient(app.app) as starter:
        answer = strava_round_trip(starter)
    with TestClient(app.app) as stranger:
        return _back(stranger, answer)


def _tampered(app: AppUnderTest, sim: Simulator) -> Response:
    with TestClient(app.app) as browser:
        reply = _reply(strava_round_trip(browser))
        payload, _, signature = reply["state"].rpartition(".")
        reply["state"] = f"{payload}.{signature[::-1]}"
        return _callback(browser, reply)


def _forged_with_another_key(app: AppUnderTest, sim: Simulator) -> Response:
    """A well-formed state naming the browser's real nonce and cookie, signed by an attacker."""
    with TestClient(app.app) as browser:
        reply = _reply(strava_round_trip(browser))
        real = URLSafeSerializer("x").loads_unsafe(reply["state"])[1]
        reply["state"] = URLSafeSerializer("attacker-key", salt="strideguard-strava-state").dumps(
            real
        )
        return _callback(browser, reply)


def _swapped_into_victim(app: AppUnderTest, sim: Simulator) -> Response:
    """Login CSRF: the attacker's own genuine reply planted in the victim's browser."""
    with TestClient(app.app) as attacker:
        attackers_reply = strava_round_trip(attacker)
    with TestClient(app.app) as victim:
        click_connect(victim)  # the victim has a connect cookie of their own
        return _back(victim, attackers_reply)


def _expired(app: AppUnderTest, sim: Simulator) -> Response:
    with TestClient(app.app) as browser:
        answer = strava_round_trip(browser)
        sim.clock.advance(10 * 60 + 1)
        return _back(browser, answer)


def _cookie_without_state(app: AppUnderTest, sim: Simulator) -> Response:
    with TestClient(app.app) as browser:
        reply = _reply(strava_round_trip(browser))
        del reply["state"]
        return _callback(browser, reply)


@pytest.mark.parametrize(
    ("attack", "reason"),
    [
        (_no_cookie, "another browser"),
        (_tampered, "altered"),
        (_forged_with_another_key, "altered"),
        (_swapped_into_victim, "another browser"),
        (_expired, "ten minutes"),
        (_cookie_without_state, "incomplete"),
    ],
)
def test_bad_state_is_refused_before_any_code_exchange(
    app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session], attack: Attack, reason: str
) -> None:
    page = attack(app, sim)
    assert page.status_code == 400
    assert "We couldn&#39;t finish connecting" in page.text
    assert reason in page.text
    assert "Nothing was stored" in page.text
    assert _code_exchanges(sim) == 0
    counts = row_counts(sessions)
    assert (counts["athletes"], counts["strava_connections"]) == (0, 0)
    assert app.jobs == []


def test_replayed_reply_exchanges_no_second_code(
    app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    with TestClient(app.app) as browser:
        click = click_connect(browser)
        cookie = browser.cookies.get(BROWSER_COOKIE)
        answer = strava_answers(click)
        assert follow_back(browser, answer).status_code == 200
        exchanges = _code_exchanges(sim)
        # the same browser, cookie restored, sends the same reply again
        browser.cookies.set(BROWSER_COOKIE, cookie or "", path=CALLBACK_PATH)
        browser.cookies.delete(RECEIPT_COOKIE)  # a reload with it shows the connected page
        replay = follow_back(browser, answer)
    assert replay.status_code == 400
    assert "already used" in replay.text
    assert _code_exchanges(sim) == exchanges == 1
    counts = row_counts(sessions)
    assert (counts["athletes"], counts["strava_connections"]) == (1, 1)
    assert len(app.jobs) == 1


def test_abandoned_connects_do_not_pile_up(
    app: AppUnderTest, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    """Anyone can open /connect/strava: each visit stores a state, which must not outlive
    the ten minutes it can be used in, or bots grow the table without bound."""
    with TestClient(app.app) as bot:
        for _ in range(5):
            click_connect(bot)
        assert row_counts(sessions)["oauth_states"] == 5
        sim.clock.advance(10 * 60 + 1)
        click_connect(bot)
    assert row_counts(sessions)["oauth_states"] == 1
