"""Admin login under attack: throttling per client and overall, kept in the database across a
restart; CSRF on the admin forms; and the flags of every cookie the app sets.

tests/spine/test_admin.py checks one client's five failures and the session cookie; this file
adds what an attacker would try next: another address, a forged X-Forwarded-For, many
addresses at once, waiting for a restart, and CSRF values from another session.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from integrations.strava.budget import MemoryBudget
from integrations.strava.context import make_context
from integrations.strava.oauth import BROWSER_COOKIE
from integrations.strava.simulator import SimClock
from strideguard.models import AdminLoginFailure
from strideguard.passwords import hash_password
from strideguard.settings import Settings
from strideguard.web import admin_auth
from strideguard.web.app import create_app
from tests.strava.conftest import AppUnderTest

PASSWORD = "correct horse battery"
ATTACKER = ("203.0.113.5", 40000)
COLLEAGUE = ("198.51.100.7", 40001)


@pytest.fixture
def admin_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"admin_password_hash": hash_password(PASSWORD)})


@pytest.fixture
def admin_app(admin_settings: Settings) -> Iterator[FastAPI]:
    app = create_app(admin_settings)
    yield app
    app.state.engine.dispose()


def _csrf(page_text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_text)
    assert found is not None
    return found.group(1)


def _login(client: TestClient, password: str, **headers: str) -> int:
    page = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"password": password, "csrf": _csrf(page.text)},
        headers=headers,
        follow_redirects=False,
    )
    status: int = answer.status_code
    return status


def _fail_until_throttled(client: TestClient) -> None:
    for _ in range(admin_auth.MAX_FAILURES_PER_CLIENT):
        assert _login(client, "wrong") == 401
    assert _login(client, PASSWORD) == 429


def test_throttle_is_per_client_and_a_forged_forwarded_for_does_not_reset_it(
    admin_app: FastAPI,
) -> None:
    attacker = TestClient(admin_app, client=ATTACKER)
    _fail_until_throttled(attacker)
    # a fresh address in a header the app must not trust
    assert _login(attacker, PASSWORD, **{"X-Forwarded-For": "192.0.2.99"}) == 429
    assert _login(attacker, PASSWORD, **{"X-Real-IP": "192.0.2.98"}) == 429
    # the admin at another address is not locked out by the attacker
    assert _login(TestClient(admin_app, client=COLLEAGUE), PASSWORD) == 303


def test_many_addresses_together_hit_the_overall_cap(
    admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """A botnet spreading guesses below the per-client cap is stopped by the overall cap."""
    spread = admin_auth.MAX_FAILURES_OVERALL - admin_auth.MAX_FAILURES_PER_CLIENT
    with sessions.begin() as session:  # earlier guesses, one per address, as the route records
        for i in range(spread):
            admin_auth.record_failure(session, f"10.0.{i // 250}.{i % 250}")
    for i in range(admin_auth.MAX_FAILURES_PER_CLIENT):  # the last few, over HTTP
        assert _login(TestClient(admin_app, client=(f"10.1.0.{i}", 1)), "wrong") == 401
    newcomer = TestClient(admin_app, client=("10.2.0.1", 1))
    assert _login(newcomer, PASSWORD) == 429


def test_throttle_survives_a_restart_and_lifts_after_its_window(
    admin_settings: Settings, admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    _fail_until_throttled(TestClient(admin_app, client=ATTACKER))
    admin_app.state.engine.dispose()
    restarted = create_app(admin_settings)  # a new process: only the database remembers
    try:
        assert _login(TestClient(restarted, client=ATTACKER), PASSWORD) == 429
        with sessions.begin() as session:
            session.execute(
                update(AdminLoginFailure).values(
                    at=AdminLoginFailure.at - admin_auth.THROTTLE_WINDOW - dt.timedelta(seconds=1)
                )
            )
        assert _login(TestClient(restarted, client=ATTACKER), PASSWORD) == 303
    finally:
        restarted.state.engine.dispose()


def test_concurrent_guesses_get_no_more_tries_than_one_by_one(
    admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """Guesses sent at once must not all pass the check before any failure is counted."""
    guesses = 3 * admin_auth.MAX_FAILURES_PER_CLIENT
    ready = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess() -> None:
        client = TestClient(admin_app, client=ATTACKER)
        csrf = _csrf(client.get("/admin/login").text)
        ready.wait()
        answer = client.post(
            "/admin/login", data={"password": "wrong", "csrf": csrf}, follow_redirects=False
        )
        statuses.append(answer.status_code)

    threads = [threading.Thread(target=guess) for _ in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(statuses) <= {401, 429}
    assert statuses.count(401) <= admin_auth.MAX_FAILURES_PER_CLIENT
    with sessions() as session:
        recorded = session.scalar(select(func.count()).select_from(AdminLoginFailure))
    assert recorded == statuses.count(401)


# ------------------------------------------------------------------ CSRF


def _logged_in(app: FastAPI) -> tuple[TestClient, str]:
    client = TestClient(app)
    assert _login(client, PASSWORD) == 303
    return client, _csrf(client.get("/admin").text)


def test_admin_forms_refuse_missing_wrong_or_borrowed_csrf(admin_app: FastAPI) -> None:
    admin, csrf = _logged_in(admin_app)
    _other_admin, other_csrf = _logged_in(admin_app)
    for form in ({}, {"csrf": ""}, {"csrf": csrf[:-1]}, {"csrf": other_csrf}):
        answer = admin.post("/admin/logout", data=form, follow_redirects=False)
        assert answer.status_code in (403, 422), form
        assert admin.get("/admin", follow_redirects=False).status_code == 200, form
    # login: the form's value must match this browser's CSRF cookie, not another's
    victim = TestClient(admin_app)
    victim.get("/admin/login")
    borrowed = _csrf(TestClient(admin_app).get("/admin/login").text)
    answer = victim.post(
        "/admin/login", data={"password": PASSWORD, "csrf": borrowed}, follow_redirects=False
    )
    assert answer.status_code == 400
    assert victim.get("/admin", follow_redirects=False).status_code == 303  # still logged out


# ------------------------------------------------------------------ cookie flags


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_every_cookie_is_httponly_samesite_and_secure_over_https(
    settings: Settings,
    sessions: sessionmaker[Session],
    clock: SimClock,
    scheme: str,
) -> None:
    public = settings.model_copy(
        update={
            "public_base_url": f"{scheme}://testserver",
            "admin_password_hash": hash_password(PASSWORD),
        }
    )
    ctx = make_context(public, sessions, budget=MemoryBudget(), clock=clock.now)
    app = AppUnderTest(public, ctx).app
    client = TestClient(app, base_url=f"{scheme}://testserver")
    cookies = {
        admin_auth.LOGIN_CSRF_COOKIE: client.get("/admin/login").headers["set-cookie"],
        BROWSER_COOKIE: client.get("/connect/strava", follow_redirects=False).headers["set-cookie"],
    }
    login = client.post(
        "/admin/login",
        data={"password": PASSWORD, "csrf": client.cookies[admin_auth.LOGIN_CSRF_COOKIE]},
        follow_redirects=False,
    )
    assert login.status_code == 303
    session_cookie = [
        c for c in login.headers.get_list("set-cookie") if c.startswith(admin_auth.SESSION_COOKIE)
    ]
    cookies[admin_auth.SESSION_COOKIE] = session_cookie[0]
    for name, header in cookies.items():
        flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert "httponly" in flags, name
        assert re.search(r"samesite=(lax|strict)", header, re.I), name
        assert ("secure" in flags) == (scheme == "https"), name
