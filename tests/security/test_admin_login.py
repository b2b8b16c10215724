"""Admin login under attack: throttling per client and overall, kept in the database across a
restart; CSRF on the admin forms; the flags of every cookie the app sets; and sessions the server
ends (logout, timeouts, a new password) whoever holds a copy of the cookie.

tests/spine/test_admin.py checks one client's five failures and the session cookie; this file
adds what an attacker would try next: another address, a forged X-Forwarded-For, many
addresses at once, waiting for a restart, CSRF values from another session, a stolen or forged
session cookie, and a read of the sessions table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode
from pydantic import ValidationError
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard import admin_sessions
from strideguard.integrations.strava import sync_jobs
from strideguard.integrations.strava.budget import MemoryBudget
from strideguard.integrations.strava.context import make_context
from strideguard.integrations.strava.oauth import BROWSER_COOKIE
from strideguard.integrations.strava.simulator import SimClock
from strideguard.models import AdminLoginFailure, AdminSession
from strideguard.passwords import hash_password
from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from strideguard.web import admin_auth, serving
from strideguard.web.app import create_app
from strideguard.web.live import LiveServer
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


def _login(client: httpx.Client, password: str, **headers: str) -> int:
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


def test_rotating_x_forwarded_for_from_loopback_does_not_escape_the_throttle(
    admin_app: FastAPI,
) -> None:
    """uvicorn believed X-Forwarded-For from 127.0.0.1 by default: 30 guesses, no 429."""
    with LiveServer(admin_app) as server, httpx.Client(base_url=server.url) as client:
        for i in range(admin_auth.MAX_FAILURES_PER_CLIENT):
            assert _login(client, "wrong", **{"X-Forwarded-For": f"192.0.2.{i}"}) == 401
        assert _login(client, "wrong", **{"X-Forwarded-For": "192.0.2.200"}) == 429
        assert _login(client, PASSWORD, **{"X-Forwarded-For": "192.0.2.201"}) == 429


def test_a_trusted_proxy_s_forwarded_address_is_the_client(
    admin_settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = admin_settings.model_copy(update={"trusted_proxies": "127.0.0.1"})
    app = create_app(settings)
    attacker, admin = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    # What a proxy appending the real address sends when the attacker forges the header.
    forged = {"X-Forwarded-For": "192.0.2.99, 203.0.113.5"}
    try:
        with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
            for _ in range(admin_auth.MAX_FAILURES_PER_CLIENT):
                assert _login(client, "wrong", **attacker) == 401
            assert _login(client, PASSWORD, **attacker) == 429
            assert _login(client, PASSWORD, **forged) == 429
            with httpx.Client(base_url=server.url) as colleague:
                assert _login(colleague, PASSWORD, **admin) == 303
    finally:
        app.state.engine.dispose()
    with sessions() as session:
        remotes = set(session.scalars(select(AdminLoginFailure.remote)))
    assert remotes == {"203.0.113.5"}


def test_trusted_proxies_must_be_addresses_or_networks(admin_settings: Settings) -> None:
    assert Settings(TRUSTED_PROXIES="10.0.0.5, 172.16.0.0/12").trusted_proxy_list == [
        "10.0.0.5",
        "172.16.0.0/12",
    ]
    assert serving.proxy_options(admin_settings) == {"proxy_headers": False}
    with pytest.raises(ValidationError, match="'\\*' is not an IP address or network"):
        Settings(TRUSTED_PROXIES="*")


def _spread_failures(sessions: sessionmaker[Session], count: int) -> None:
    """Earlier wrong guesses, one per address, as the route records them."""
    with sessions.begin() as session:
        for i in range(count):
            admin_auth.record_failure(session, f"10.0.{i // 250}.{i % 250}")


def test_many_addresses_together_are_slowed_down_but_never_lock_the_admin_out(
    admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    """A botnet spreading guesses below the per-client cap meets a growing delay; the admin,
    at an address that has not failed, still gets in with the right password at once."""
    _spread_failures(sessions, admin_auth.MAX_FAILURES_OVERALL - 1)
    guesser = TestClient(admin_app, client=("10.1.0.1", 1))
    assert _login(guesser, "wrong") == 401  # the 50th failure: the brake is on
    # The guesser, having failed, must wait, even with the right password.
    page = guesser.get("/admin/login")
    answer = guesser.post(
        "/admin/login",
        data={"password": PASSWORD, "csrf": _csrf(page.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) == 2
    assert "Try again in 2 seconds" in answer.text
    # Someone who has not failed is not refused.
    assert _login(TestClient(admin_app, client=("192.0.2.10", 1)), PASSWORD) == 303


def test_the_overall_brake_grows_with_the_failures_and_lifts_after_the_delay(
    sessions: sessionmaker[Session],
) -> None:
    cap, step = admin_auth.MAX_FAILURES_OVERALL, admin_auth.BRAKE_STEP
    delays = [
        admin_auth.brake_delay(n).total_seconds()
        for n in (cap - 1, cap, cap + step, cap + 5 * step)
    ]
    assert delays == [0, 2, 4, 64]
    assert admin_auth.brake_delay(100_000) == admin_auth.THROTTLE_WINDOW

    _spread_failures(sessions, cap + 5 * step)
    now = dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        wait = admin_auth.throttled_for(session, "10.0.0.7", now)
    assert 62 <= wait <= 64  # the address failed about now: it waits the delay
    with sessions.begin() as session:
        assert admin_auth.throttled_for(session, "10.0.0.7", now + dt.timedelta(seconds=65)) == 0
        assert admin_auth.throttled_for(session, "192.0.2.10", now) == 0  # never failed


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


# ------------------------------------------------------------------ server-side sessions


def _dashboard(client: TestClient) -> int:
    status: int = client.get("/admin", follow_redirects=False).status_code
    return status


def _holding(app: FastAPI, cookie: str) -> TestClient:
    """Another browser with a copy of an admin's session cookie, as a thief would have it."""
    client = TestClient(app)
    client.cookies.set(admin_auth.SESSION_COOKIE, cookie, path="/admin")
    return client


def _session_id(settings: Settings, cookie: str) -> str:
    session_id: str = admin_auth._serializer(settings).loads(cookie)["sid"]
    return session_id


def _age(
    sessions: sessionmaker[Session],
    settings: Settings,
    cookie: str,
    by: dt.timedelta,
    *columns: str,
) -> None:
    """Move the cookie's session row back in time (in Python: no date arithmetic in SQL)."""
    id_hash = hashlib.sha256(_session_id(settings, cookie).encode()).hexdigest()
    with sessions.begin() as session:
        row = session.scalars(select(AdminSession).where(AdminSession.id_hash == id_hash)).one()
        for column in columns:
            setattr(row, column, getattr(row, column) - by)


def test_a_copied_cookie_stops_working_after_logout(admin_app: FastAPI) -> None:
    admin, csrf = _logged_in(admin_app)
    colleague, _ = _logged_in(admin_app)
    thief = _holding(admin_app, admin.cookies[admin_auth.SESSION_COOKIE])
    assert _dashboard(thief) == 200
    signed_out = admin.post("/admin/logout", data={"csrf": csrf}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert _dashboard(thief) == 303
    # the thief's own sign-out just drops the dead cookie; it ends nobody else's session
    assert thief.post("/admin/logout", data={"csrf": csrf}).url.path == "/admin/login"
    assert _dashboard(colleague) == 200


def test_a_session_ends_after_idling_or_its_lifetime_and_activity_keeps_it_alive(
    admin_settings: Settings, admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    admin, _ = _logged_in(admin_app)
    cookie = admin.cookies[admin_auth.SESSION_COOKIE]
    almost_idle = admin_sessions.IDLE_TIMEOUT - dt.timedelta(minutes=1)
    for _ in range(2):  # idle twice that long in all, but each request restarts the idle clock
        _age(sessions, admin_settings, cookie, almost_idle, "last_seen_at")
        assert _dashboard(admin) == 200
    # busy all along, but signed in longer ago than the lifetime (the cookie's own signed
    # timestamp is fresh, so only the server can tell)
    lifetime = admin_sessions.LIFETIME + dt.timedelta(seconds=1)
    _age(sessions, admin_settings, cookie, lifetime, "created_at", "expires_at")
    assert _dashboard(admin) == 303

    admin, _ = _logged_in(admin_app)
    cookie = admin.cookies[admin_auth.SESSION_COOKIE]
    idle = admin_sessions.IDLE_TIMEOUT + dt.timedelta(seconds=1)
    _age(sessions, admin_settings, cookie, idle, "last_seen_at")
    assert _dashboard(admin) == 303


def test_a_session_opened_before_a_password_change_is_refused(
    admin_settings: Settings, admin_app: FastAPI
) -> None:
    admin, _ = _logged_in(admin_app)
    cookie = admin.cookies[admin_auth.SESSION_COOKIE]
    new_password = "a brand new passphrase"
    changed = create_app(
        admin_settings.model_copy(update={"admin_password_hash": hash_password(new_password)})
    )
    try:
        after = _holding(changed, cookie)  # same SECRET_KEY: the signature still checks out
        assert _dashboard(after) == 303
        assert _login(after, new_password) == 303
        assert _dashboard(after) == 200
    finally:
        changed.state.engine.dispose()
    assert _dashboard(admin) == 200  # under the old hash it is live: the new hash ended it


def _flip_signature(settings: Settings, cookie: str) -> str:
    body, signature = cookie.rsplit(".", 1)
    return f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"


def _swap_session_id(settings: Settings, cookie: str) -> str:
    """Another session id in the payload, the timestamp and signature left as they were."""
    payload, signed = cookie.split(".", 1)
    data = json.loads(base64_decode(payload))
    data["sid"] = secrets.token_urlsafe(32)
    return f"{base64_encode(json.dumps(data)).decode()}.{signed}"


def _sign_unknown_session(settings: Settings, cookie: str) -> str:
    """Signed with the real SECRET_KEY (say it leaked), naming a session nobody opened."""
    return admin_auth._serializer(settings).dumps({"sid": secrets.token_urlsafe(32), "csrf": "x"})


def _sign_with_another_key(settings: Settings, cookie: str) -> str:
    """The real session id, signed with a key that is not this server's."""
    forger = URLSafeTimedSerializer("another-" + settings.signing_key(), salt="admin-session")
    return forger.dumps({"sid": _session_id(settings, cookie), "csrf": "x"})


@pytest.mark.parametrize(
    "forge", [_flip_signature, _swap_session_id, _sign_unknown_session, _sign_with_another_key]
)
def test_a_tampered_or_forged_cookie_is_refused(
    admin_settings: Settings, admin_app: FastAPI, forge: Callable[[Settings, str], str]
) -> None:
    admin, _ = _logged_in(admin_app)
    cookie = admin.cookies[admin_auth.SESSION_COOKIE]
    forged = forge(admin_settings, cookie)
    assert forged != cookie
    assert _dashboard(_holding(admin_app, forged)) == 303
    assert _dashboard(_holding(admin_app, cookie)) == 200  # the genuine one, still live


def test_the_database_holds_only_a_hash_of_the_session_id(
    admin_settings: Settings, admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    admin, _ = _logged_in(admin_app)
    cookie = admin.cookies[admin_auth.SESSION_COOKIE]
    session_id = _session_id(admin_settings, cookie)
    with sessions() as session:
        rows = session.execute(text("SELECT * FROM admin_sessions")).mappings().all()
    assert len(rows) == 1
    stored = " ".join(str(value) for value in rows[0].values())
    assert session_id not in stored
    assert str(admin_settings.admin_password_hash) not in stored
    assert rows[0]["id_hash"] == hashlib.sha256(session_id.encode()).hexdigest()


def test_the_daily_purge_deletes_ended_sessions_and_keeps_live_ones(
    admin_settings: Settings, admin_app: FastAPI, sessions: sessionmaker[Session]
) -> None:
    live, _ = _logged_in(admin_app)
    signed_out, csrf = _logged_in(admin_app)
    signed_out.post("/admin/logout", data={"csrf": csrf})
    idle, _ = _logged_in(admin_app)
    _age(
        sessions,
        admin_settings,
        idle.cookies[admin_auth.SESSION_COOKIE],
        admin_sessions.IDLE_TIMEOUT,
        "last_seen_at",
    )
    expired, _ = _logged_in(admin_app)
    _age(
        sessions,
        admin_settings,
        expired.cookies[admin_auth.SESSION_COOKIE],
        admin_sessions.LIFETIME,
        "created_at",
        "expires_at",
    )
    runtime = start_runtime(admin_settings)
    try:
        sync_jobs.purge_expired(runtime)
    finally:
        runtime.close()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AdminSession)) == 1
    assert _dashboard(live) == 200
