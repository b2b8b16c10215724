"""Sign in by email link: one answer for every address, one use, one browser, 15 minutes."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from strideguard import runner_sessions
from strideguard.integrations.email.digest_links import link_url
from strideguard.links import make_link_token
from strideguard.mailsink import OutboxSink
from strideguard.models import RunnerSession, RunnerSigninLink
from strideguard.runner_sessions import MAX_PER_ADDRESS, MAX_PER_CLIENT, sha256
from strideguard.settings import Settings
from strideguard.web.runner.common import SESSION_COOKIE
from tests.runner.conftest import signin_links
from tests.runner.signing_in import ask_for_link, path_of, sign_in

OUR_LOGGERS = {"strideguard", "worker", "integrations", "rules", "uvicorn"}


def test_the_answer_is_the_same_for_known_and_unknown_addresses(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    known = client.post("/signin", data={"email": "ana@example.org"}, follow_redirects=False)
    unknown = client.post("/signin", data={"email": "nobody@example.org"}, follow_redirects=False)
    assert (known.status_code, unknown.status_code) == (303, 303)
    assert known.headers["location"] == unknown.headers["location"] == "/signin?sent=1"
    assert known.cookies.keys() == unknown.cookies.keys()
    page = client.get("/signin?sent=1").text
    assert "If this address belongs to a strideguard account" in page
    # Only the real runner gets mail; nothing at all is stored for the unknown address.
    links = signin_links(sink)
    assert len(links) == 1
    assert sink.received == 1


def test_a_link_signs_in_once_and_only_in_the_browser_that_asked(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    assert ask_for_link(client) == 303
    link = path_of(signin_links(sink)[0])
    # A mail scanner or another browser: refused, and the link is NOT used up by it.
    with TestClient(client.app, base_url="https://testserver") as other:
        elsewhere = other.get(link, follow_redirects=False)
        assert elsewhere.status_code == 400
        assert "Open this link in the browser where you asked for it" in elsewhere.text
        assert "Email me a new link" in elsewhere.text
    opened = client.get(link, follow_redirects=False)
    assert opened.status_code == 303
    cookie = opened.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" in cookie
    assert "Max-Age=2592000" in cookie  # 30 days
    assert client.get("/me").status_code == 200
    again = client.get(link, follow_redirects=False)
    assert again.status_code == 400
    assert "already used" in again.text
    assert "Email me a new link" in again.text


def test_an_expired_link_offers_a_new_one(
    client: TestClient, db: sessionmaker[Session], sink: OutboxSink, runner: int
) -> None:
    assert ask_for_link(client) == 303
    link = path_of(signin_links(sink)[0])
    with db.begin() as session:
        session.execute(
            update(RunnerSigninLink).values(
                expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            )
        )
    page = client.get(link, follow_redirects=False)
    assert page.status_code == 400
    assert "expired" in page.text
    assert '<form method="post" action="/signin">' in page.text
    assert client.get("/me", follow_redirects=False).headers["location"] == "/signin"


def test_links_and_sessions_are_stored_only_as_hashes(
    client: TestClient, db: sessionmaker[Session], sink: OutboxSink, runner: int
) -> None:
    sign_in(client, sink)
    token = path_of(signin_links(sink)[0]).split("token=", 1)[1]
    session_id = client.cookies[SESSION_COOKIE]
    with db() as session:
        link = session.scalars(select(RunnerSigninLink)).one()
        row = session.scalars(select(RunnerSession)).one()
    assert link.token_hash == sha256(token)
    assert link.used_at is not None
    assert row.id_hash == sha256(session_id)
    assert token not in (link.browser_hash, link.token_hash)
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    assert dt.timedelta(days=29) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=30)


def test_sign_out_ends_the_session_for_every_copy_of_the_cookie(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    sign_in(client, sink)
    stolen = client.cookies[SESSION_COOKIE]
    page = client.get("/me").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    out = client.post("/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/signin?out=1"
    with TestClient(client.app, base_url="https://testserver") as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        assert thief.get("/me", follow_redirects=False).headers["location"] == "/signin"


def test_requests_are_throttled_per_address_and_per_client(
    client: TestClient, sink: OutboxSink, runner: int
) -> None:
    for _ in range(MAX_PER_ADDRESS):
        assert ask_for_link(client) == 303
    refused = client.post("/signin", data={"email": "ana@example.org"})
    assert refused.status_code == 429
    assert "try again in 15 minutes" in refused.text
    assert len(signin_links(sink, MAX_PER_ADDRESS)) == MAX_PER_ADDRESS
    # The same client asking for many different addresses is capped too.
    for n in range(MAX_PER_CLIENT - MAX_PER_ADDRESS):
        assert ask_for_link(client, f"someone{n}@example.org") == 303
    assert ask_for_link(client, "one-more@example.org") == 429


def test_a_bad_address_is_named_and_nothing_is_sent(client: TestClient, sink: OutboxSink) -> None:
    page = client.post("/signin", data={"email": "not-an-address"})
    assert page.status_code == 400
    assert "look like an email address" in page.text
    assert 'value="not-an-address"' in page.text
    assert sink.received == 0


def test_the_link_never_reaches_the_logs(
    client: TestClient, sink: OutboxSink, runner: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sign_in(client, sink)
    token = path_of(signin_links(sink)[0]).split("token=", 1)[1]
    session_id = client.cookies[SESSION_COOKIE]
    # Our code's records; the test's own SMTP sink and HTTP client log whole requests.
    ours = [r for r in caplog.records if r.name.split(".")[0] in OUR_LOGGERS]
    assert any("runner signed in" in r.getMessage() for r in ours)
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in ours)
    assert token not in logged
    assert session_id not in logged


def test_email_links_keep_working_without_signing_in(
    client: TestClient, settings: Settings, runner: int
) -> None:
    token = make_link_token(runner, "preferences", settings)
    page = client.get(path_of(link_url(settings, "preferences", token)))
    assert page.status_code == 200
    assert "Your preferences" in page.text


def test_the_daily_purge_drops_spent_links_and_ended_sessions_only(
    client: TestClient, db: sessionmaker[Session], sink: OutboxSink, runner: int
) -> None:
    sign_in(client, sink)  # one used link, one live session
    with TestClient(client.app, base_url="https://testserver") as other:
        sign_in(other, sink)
        csrf = other.get("/me").text.split('name="csrf" value="')[1].split('"')[0]
        other.post("/signout", data={"csrf": csrf})  # one revoked session
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)  # links and requests are over
    with db.begin() as session:
        assert runner_sessions.purge(session, later) == 2 + 1 + 4  # links, session, requests
    with db() as session:
        assert session.scalars(select(RunnerSigninLink)).all() == []
        assert len(session.scalars(select(RunnerSession)).all()) == 1
    assert client.get("/me").status_code == 200  # the live session was kept
