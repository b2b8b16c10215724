"""Tokens: encrypted at rest, refreshed before expiry, rotation never lost, races serialised."""

from __future__ import annotations

import logging
import multiprocessing
import threading

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import ConnectionRevoked, StravaUnavailable
from strideguard.integrations.strava.http import make_client
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.sync import refresh_window
from strideguard.integrations.strava.tokens import access_token
from strideguard.models import StravaConnection
from tests.faults.checks import StravaView, assert_nothing_lost
from tests.strava.child_refresh import refresh_in_child
from tests.strava.conftest import CLIENT_ID, CLIENT_SECRET, connect_directly, seed

SIX_HOURS = 6 * 60 * 60


def _connection(sessions: sessionmaker[Session]) -> StravaConnection:
    with sessions() as session:
        return session.scalars(select(StravaConnection)).one()


def _refreshes(sim: Simulator) -> int:
    return sum(1 for r in sim.requests if r.path == "/oauth/token")


def test_tokens_are_encrypted_in_the_raw_column(
    ctx: StravaContext, sim: Simulator, engine: object
) -> None:
    athlete_id = connect_directly(ctx, sim)
    token = access_token(ctx, athlete_id)
    with ctx.sessions() as session:
        raw_access, raw_refresh = session.execute(
            text("SELECT access_token_enc, refresh_token_enc FROM strava_connections")
        ).one()
    assert token.token.encode() not in bytes(raw_access)
    refresh = Fernet(ctx.settings.fernet_key()).decrypt(bytes(raw_refresh)).decode()
    assert refresh.encode() not in bytes(raw_refresh)
    assert Fernet(ctx.settings.fernet_key()).decrypt(bytes(raw_access)).decode() == token.token


def test_expiry_refreshes_and_persists_the_rotated_token_before_using_it(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    first = access_token(ctx, athlete_id)
    old_refresh = ctx.cipher.open(_connection(sessions).refresh_token_enc)
    sim.clock.advance(SIX_HOURS - 4 * 60)  # four minutes left: inside the refresh margin
    # the request after the refresh fails, but the rotated token must already be stored
    sim.fail_next("/api/v3/athlete/activities", 503)
    with pytest.raises(StravaUnavailable):
        refresh_window(ctx, athlete_id)
    stored = _connection(sessions)
    new_refresh = ctx.cipher.open(stored.refresh_token_enc)
    assert new_refresh != old_refresh
    assert stored.token_version == first.version + 1
    # the stored refresh token is the live one: Strava accepts it (and killed the old one)
    client = make_client(sim.base_url)
    assert client.refresh_access_token(CLIENT_ID, CLIENT_SECRET, new_refresh)["access_token"]


def test_a_fresh_token_is_not_refreshed(ctx: StravaContext, sim: Simulator) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.clock.advance(SIX_HOURS - 10 * 60)
    access_token(ctx, athlete_id)
    assert _refreshes(sim) == 0


def test_threads_refreshing_at_once_burn_one_refresh_token(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.clock.advance(SIX_HOURS + 60)
    gate = threading.Barrier(6)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        gate.wait()
        try:
            tokens.append(access_token(ctx, athlete_id).token)
        except BaseException as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(set(tokens)) == 1
    assert _refreshes(sim) == 1
    assert _connection(sessions).status == "active"
    # and the token works
    assert refresh_window(ctx, athlete_id).fetched == 21


@pytest.mark.faults
def test_two_processes_refreshing_at_once_keep_the_connection(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.clock.advance(SIX_HOURS + 60)
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    results = spawn.Queue()
    children = [
        spawn.Process(
            target=refresh_in_child, args=(athlete_id, sim.clock.now().isoformat(), start, results)
        )
        for _ in range(2)
    ]
    for child in children:
        child.start()
    start.set()
    got = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(30)
    assert all(child.exitcode == 0 for child in children)
    assert got[0] == got[1]
    assert _refreshes(sim) == 1
    assert _connection(sessions).status == "active"
    assert refresh_window(ctx, athlete_id).fetched == 21
    seeds = {runner["athlete"]["id"]: runner["activities"] for runner in seed()}
    assert_nothing_lost(sessions, ctx.settings, clock=ctx.clock, strava=StravaView(sim, seeds))


def test_a_401_forces_one_refresh_and_one_retry(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    with sessions.begin() as session:  # Strava dropped this access token early
        connection = session.scalars(select(StravaConnection)).one()
        connection.access_token_enc = ctx.cipher.seal("dead-token")
    report = refresh_window(ctx, athlete_id)
    assert report.fetched == 21
    assert _refreshes(sim) == 1
    listed = [r.status for r in sim.requests if r.path == "/api/v3/athlete/activities"]
    assert listed == [401, 200]


def test_revoked_access_marks_the_connection_and_stops_later_jobs(
    ctx: StravaContext, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    athlete_id = connect_directly(ctx, sim)
    sim.revoke(134815)
    sim.clock.advance(SIX_HOURS + 60)
    with pytest.raises(ConnectionRevoked) as raised:
        refresh_window(ctx, athlete_id)
    assert raised.value.retryable is False
    assert _connection(sessions).status == "revoked"
    seen = len(sim.requests)
    with pytest.raises(ConnectionRevoked):
        refresh_window(ctx, athlete_id)
    assert len(sim.requests) == seen  # nothing sent for a revoked athlete


def test_no_token_reaches_the_logs(
    ctx: StravaContext,
    sim: Simulator,
    sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    athlete_id = connect_directly(ctx, sim)
    first = access_token(ctx, athlete_id).token
    first_refresh = ctx.cipher.open(_connection(sessions).refresh_token_enc)
    sim.clock.advance(SIX_HOURS + 60)
    refresh_window(ctx, athlete_id)
    second = access_token(ctx, athlete_id).token
    second_refresh = ctx.cipher.open(_connection(sessions).refresh_token_enc)
    assert caplog.records  # the sync did log
    for secret in (first, first_refresh, second, second_refresh, CLIENT_SECRET):
        assert secret not in caplog.text
