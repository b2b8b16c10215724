"""Disconnecting: tell Strava, then forget everything we hold about the athlete.

Strava's `oauth/revoke` (from June 2026: the app authenticates with its client id and secret,
and revoking the token revokes the whole grant) replaces `oauth/deauthorize`, which it retires
on 1 June 2027. stravalib 2.6 knows only the old one, so revoke is sent here; where Strava
answers 404 for it (a Strava from before it existed), the old endpoint is used instead.

Strava's terms ask for deletion on deauthorization, so the athlete row goes too and the
database cascades the rest (connection and tokens, activities, gear, back-pain check-ins,
evaluations, alerts, outbox). Webhook events are keyed by Strava's owner id, not a foreign
key, so they are deleted explicitly.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import requests
from sqlalchemy import delete
from stravalib import exc as strava_exc

from strideguard.integrations.strava.context import StravaContext, make_context
from strideguard.integrations.strava.errors import (
    ConnectionRevoked,
    NotConnected,
    StravaError,
    StravaRejected,
    StravaUnavailable,
)
from strideguard.integrations.strava.http import STRAVA_ORIGIN
from strideguard.integrations.strava.tokens import access_token
from strideguard.models import Athlete, WebhookEvent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from strideguard.settings import Settings

log = logging.getLogger(__name__)

REVOKE_URL = f"{STRAVA_ORIGIN}/oauth/revoke"
DEAUTHORIZE_URL = f"{STRAVA_ORIGIN}/oauth/deauthorize"  # retired by Strava on 1 June 2027


def delete_athlete_data(sessions: sessionmaker[Session], athlete_id: int) -> bool:
    """Delete the athlete and everything hanging off them; False if already gone."""
    with sessions.begin() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            return False
        session.execute(
            delete(WebhookEvent).where(WebhookEvent.owner_id == athlete.strava_athlete_id)
        )
        session.execute(delete(Athlete).where(Athlete.id == athlete_id))
    log.info("athlete data deleted", extra={"athlete_id": athlete_id})
    return True


def disconnect(
    sessions: sessionmaker[Session],
    athlete_id: int,
    settings: Settings,
    *,
    ctx: StravaContext | None = None,
) -> bool:
    """Deauthorize on Strava and delete the athlete's data.

    Returns whether Strava confirmed; when it could not be reached the data is deleted anyway
    (the runner asked), and the page tells them to remove the app at strava.com too.
    """
    ctx = ctx or make_context(settings, sessions)
    confirmed = False
    try:
        revoke_grant(ctx, access_token(ctx, athlete_id).token)
        confirmed = True
    except (ConnectionRevoked, NotConnected):
        confirmed = True  # nothing left to revoke on Strava's side
    except strava_exc.AccessUnauthorized:
        confirmed = True  # the token is already dead
    except (StravaError, strava_exc.Fault, requests.RequestException) as error:
        log.warning(
            "Strava deauthorize failed (%s); deleting local data anyway",
            type(error).__name__,
            extra={"athlete_id": athlete_id},
        )
    delete_athlete_data(sessions, athlete_id)
    return confirmed


def revoke_grant(ctx: StravaContext, token: str) -> None:
    """End the athlete's grant on Strava: `oauth/revoke`, or `oauth/deauthorize` where that
    is missing. Raises `StravaError` or stravalib's `Fault` when Strava refuses."""
    client_id, client_secret = ctx.credentials()
    client = ctx.client(token)
    answer = client.protocol.rsession.post(
        REVOKE_URL,
        auth=(str(client_id), client_secret),
        data={"token": token, "token_type_hint": "access_token"},
    )
    if answer.status_code == 404:
        client.protocol.post(DEAUTHORIZE_URL)  # the token goes in the Authorization header
    elif answer.status_code >= 500:
        raise StravaUnavailable(f"Strava answered HTTP {answer.status_code} to oauth/revoke")
    elif answer.status_code >= 400:
        raise StravaRejected(f"Strava refused oauth/revoke: HTTP {answer.status_code}")
