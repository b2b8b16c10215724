"""Access tokens that stay valid, and refresh tokens that are never lost.

Strava rotates the refresh token on refresh and the old one dies at once. So a refresh is
serialised per athlete across processes (a row lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite),
the rotated token is committed before the new access token is used, and a process that waited
for the lock re-reads the row and takes the token the other one just stored instead of burning
a second refresh.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from stravalib import exc as strava_exc

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import (
    ConnectionRevoked,
    NotConnected,
    StravaUnavailable,
)
from strideguard.models import StravaConnection
from strideguard.status import ConnectionStatus
from strideguard.times import aware

log = logging.getLogger(__name__)

# Refresh this long before expiry, so a token never dies in the middle of a sync.
REFRESH_MARGIN = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class AccessToken:
    athlete_id: int
    token: str = ""
    # token_version of the row the token came from; a 401 refreshes only if nobody else has.
    version: int = 0

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(athlete_id={self.athlete_id}, version={self.version})"


def store_grant(
    session: Session,
    ctx: StravaContext,
    athlete_id: int,
    access_info: dict[str, Any],
    scopes: str,
) -> StravaConnection:
    """Create or replace the athlete's connection from a fresh code exchange."""
    cipher = ctx.cipher
    connection = session.scalar(
        select(StravaConnection).where(StravaConnection.athlete_id == athlete_id)
    )
    if connection is None:
        connection = StravaConnection(athlete_id=athlete_id, token_version=0)
        session.add(connection)
    connection.access_token_enc = cipher.seal(str(access_info["access_token"]))
    connection.refresh_token_enc = cipher.seal(str(access_info["refresh_token"]))
    connection.expires_at = dt.datetime.fromtimestamp(int(access_info["expires_at"]), dt.UTC)
    connection.scopes = scopes
    connection.status = ConnectionStatus.ACTIVE
    connection.revoked_at = None
    connection.last_error = None
    connection.token_version = (connection.token_version or 0) + 1
    # Every (re)connect is followed by a first sync of its own, which stamps this again.
    connection.backfilled_at = None
    return connection


def _usable(connection: StravaConnection, now: dt.datetime, stale_version: int | None) -> bool:
    if stale_version is not None:
        return connection.token_version > stale_version
    return aware(connection.expires_at) - now > REFRESH_MARGIN


def _check_active(connection: StravaConnection | None, athlete_id: int) -> StravaConnection:
    if connection is None:
        raise NotConnected(f"athlete {athlete_id} has no Strava connection")
    if connection.status != ConnectionStatus.ACTIVE:
        raise ConnectionRevoked(athlete_id, connection.last_error or connection.status)
    return connection


def access_token(
    ctx: StravaContext, athlete_id: int, *, stale_version: int | None = None
) -> AccessToken:
    """A token valid for at least REFRESH_MARGIN; with `stale_version`, newer than that one.

    Raises `NotConnected`, `ConnectionRevoked` (never retry) or `StravaUnavailable` (retry).
    """
    now = ctx.clock()
    with ctx.sessions() as session:
        connection = _check_active(
            session.scalar(
                select(StravaConnection).where(StravaConnection.athlete_id == athlete_id)
            ),
            athlete_id,
        )
        if _usable(connection, now, stale_version):
            return _token_of(ctx, connection)
    return _refresh(ctx, athlete_id, stale_version)


def _token_of(ctx: StravaContext, connection: StravaConnection) -> AccessToken:
    return AccessToken(
        connection.athlete_id,
        ctx.cipher.open(connection.access_token_enc),
        connection.token_version,
    )


def _lock_connection(session: Session, athlete_id: int) -> StravaConnection | None:
    """Take the per-athlete refresh lock and read the row as it is now."""
    query = select(StravaConnection).where(StravaConnection.athlete_id == athlete_id)
    if session.get_bind().dialect.name == "sqlite":
        # SQLite has no row locks; an immediate transaction makes writers queue up
        # (busy_timeout) and the read that follows sees the winner's commit.
        session.execute(text("BEGIN IMMEDIATE"))
        return session.scalar(query)
    return session.scalar(query.with_for_update())


def _refresh(ctx: StravaContext, athlete_id: int, stale_version: int | None) -> AccessToken:
    client_id, client_secret = ctx.credentials()
    cipher = ctx.cipher
    with ctx.sessions() as session:
        connection = _check_active(_lock_connection(session, athlete_id), athlete_id)
        if _usable(connection, ctx.clock(), stale_version):
            # Another worker refreshed while we waited for the lock.
            token = _token_of(ctx, connection)
            session.rollback()
            return token
        refresh_token = cipher.open(connection.refresh_token_enc)
        try:
            grant = ctx.client().refresh_access_token(
                client_id=client_id, client_secret=client_secret, refresh_token=refresh_token
            )
        except strava_exc.Fault as error:
            status = error.response.status_code if error.response is not None else 0
            if status in (400, 401):
                connection.status = ConnectionStatus.REVOKED
                connection.revoked_at = ctx.clock()
                connection.last_error = f"token refresh refused by Strava (HTTP {status})"
                session.commit()
                log.warning(
                    "Strava refused the token refresh; connection marked revoked",
                    extra={"athlete_id": athlete_id},
                )
                raise ConnectionRevoked(athlete_id, "token refresh refused") from None
            session.rollback()
            raise StravaUnavailable(f"token refresh failed with HTTP {status}") from None
        except requests.RequestException as error:
            session.rollback()
            raise StravaUnavailable(f"token refresh failed: {type(error).__name__}") from None
        connection.access_token_enc = cipher.seal(grant["access_token"])
        connection.refresh_token_enc = cipher.seal(grant["refresh_token"])
        connection.expires_at = dt.datetime.fromtimestamp(int(grant["expires_at"]), dt.UTC)
        connection.token_version += 1
        version = connection.token_version
        # Committed before anyone uses the new access token: the old refresh token is dead.
        session.commit()
        log.info("Strava token refreshed", extra={"athlete_id": athlete_id})
        return AccessToken(athlete_id, grant["access_token"], version)
