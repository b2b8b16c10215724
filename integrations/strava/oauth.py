"""Connecting an athlete: the signed `state`, the scopes we need, the code exchange.

`state` is signed (it cannot be forged), names a nonce that is spent on first use (it cannot
be replayed), expires after ten minutes, and carries a hash of a random value kept in an
HttpOnly cookie, so a callback that reaches a different browser (login CSRF) is refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select, update
from stravalib import exc as strava_exc

from strideguard.integrations.strava.athlete_api import AthleteApi
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import StravaError, StravaUnavailable
from strideguard.integrations.strava.mapping import units_from_preference
from strideguard.integrations.strava.tokens import store_grant
from strideguard.models import Athlete, OAuthState
from strideguard.worker.ports import Priority

STATE_MAX_AGE = dt.timedelta(minutes=10)
BROWSER_COOKIE = "sg_strava_connect"
CALLBACK_PATH = "/strava/callback"
# activity:read_all so private runs count toward weekly load; read for the profile (units).
REQUESTED_SCOPES = ["read", "activity:read_all"]

StateProblem = Literal["missing", "tampered", "expired", "replayed", "other_browser"]


class StateError(Exception):
    def __init__(self, problem: StateProblem, message: str) -> None:
        super().__init__(message)
        self.problem: StateProblem = problem


@dataclass(frozen=True)
class ConnectStart:
    authorize_url: str
    browser_secret: str  # goes into the HttpOnly cookie


def _serializer(ctx: StravaContext) -> URLSafeSerializer:
    return URLSafeSerializer(ctx.settings.signing_key(), salt="strideguard-strava-state")


def _digest(browser_secret: str) -> str:
    return hashlib.sha256(browser_secret.encode()).hexdigest()


def callback_url(ctx: StravaContext) -> str:
    return ctx.settings.public_base_url + CALLBACK_PATH


def begin_connect(ctx: StravaContext, *, force_prompt: bool = False) -> ConnectStart:
    """Record a fresh nonce and build Strava's consent URL around it."""
    from strideguard.integrations.strava.http import authorize_url

    client_id, _secret = ctx.credentials()
    nonce = secrets.token_urlsafe(24)
    browser_secret = secrets.token_urlsafe(24)
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        # Anyone may start a connect; an expired state can never be spent, so it goes here,
        # or abandoned visits would grow the table without bound.
        session.execute(delete(OAuthState).where(OAuthState.created_at < now - STATE_MAX_AGE))
        session.add(OAuthState(nonce=nonce, created_at=now))
    state = _serializer(ctx).dumps({"n": nonce, "b": _digest(browser_secret)})
    url = authorize_url(
        ctx.settings.strava_base_url,
        client_id,
        callback_url(ctx),
        scope=list(REQUESTED_SCOPES),  # type: ignore[arg-type]
        state=state,
        approval_prompt="force" if force_prompt else "auto",
    )
    return ConnectStart(url, browser_secret)


def spend_state(ctx: StravaContext, state: str | None, browser_secret: str | None) -> None:
    """Accept `state` once, from the browser that started the flow, within ten minutes."""
    if not state:
        raise StateError("missing", "the reply from Strava carries no state")
    try:
        payload = _serializer(ctx).loads(state)
    except BadSignature:
        raise StateError("tampered", "the state in the reply from Strava was altered") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise StateError("tampered", "the state in the reply from Strava is malformed")
    if not browser_secret or not hmac.compare_digest(
        _digest(browser_secret), str(payload.get("b", ""))
    ):
        raise StateError(
            "other_browser", "this reply belongs to a connection started in another browser"
        )
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        row = session.get(OAuthState, payload["n"])
        if row is None or row.used_at is not None:
            raise StateError("replayed", "this Strava reply was already used")
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
        if now - created > STATE_MAX_AGE:
            raise StateError("expired", "the connection took longer than ten minutes")
        spent = session.execute(
            update(OAuthState)
            .where(OAuthState.nonce == payload["n"], OAuthState.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(spent, "rowcount", 0) != 1:  # a concurrent callback won the race
            raise StateError("replayed", "this Strava reply was already used")


ScopeVerdict = Literal["ok", "no_private", "no_activities"]


def judge_scopes(granted: str | None) -> ScopeVerdict:
    scopes = {part.strip() for part in (granted or "").split(",") if part.strip()}
    if "activity:read_all" in scopes:
        return "ok"
    if "activity:read" in scopes:
        return "no_private"
    return "no_activities"


@dataclass(frozen=True)
class Connected:
    athlete_id: int
    firstname: str | None
    email: str | None
    units: str


def complete_connect(ctx: StravaContext, code: str, granted_scopes: str) -> Connected:
    """Exchange the code, store encrypted tokens and the athlete; the caller starts backfill."""
    client_id, client_secret = ctx.credentials()
    client = ctx.client()
    try:
        grant, summary = client.protocol.exchange_code_for_token(
            client_id=client_id, client_secret=client_secret, code=code, return_athlete=True
        )
    except strava_exc.Fault as error:
        status = error.response.status_code if error.response is not None else 0
        raise StravaUnavailable(f"Strava refused the code exchange (HTTP {status})") from None
    strava_athlete_id = (summary or {}).get("id")
    if not isinstance(strava_athlete_id, int):
        raise StravaUnavailable("Strava's token reply did not name the athlete")
    firstname = (summary or {}).get("firstname")
    with ctx.sessions.begin() as session:
        athlete = session.scalar(
            select(Athlete).where(Athlete.strava_athlete_id == strava_athlete_id)
        )
        returning = athlete is not None
        if athlete is None:
            athlete = Athlete(strava_athlete_id=strava_athlete_id)
            session.add(athlete)
        athlete.firstname = str(firstname)[:100] if firstname else None
        session.flush()
        store_grant(session, ctx, athlete.id, dict(grant), granted_scopes)
        athlete_id = athlete.id
        if returning:  # a reconnect keeps the units the runner chose, not Strava's preference
            return Connected(athlete_id, athlete.firstname, athlete.email, athlete.units)
    units = _units(ctx, athlete_id, (summary or {}).get("measurement_preference"))
    with ctx.sessions.begin() as session:
        athlete = session.get_one(Athlete, athlete_id)
        athlete.units = units
        return Connected(athlete_id, athlete.firstname, athlete.email, units)


def _units(ctx: StravaContext, athlete_id: int, preference: object) -> str:
    """Strava's token reply usually lacks the unit preference; the profile has it."""
    if preference is None:
        try:
            profile = AthleteApi(ctx, athlete_id, Priority.BACKFILL).call(
                lambda client: client.protocol.get("/athlete")
            )
        except StravaError:
            return "km"  # the preferences page lets the runner change it
        preference = profile.get("measurement_preference") if isinstance(profile, dict) else None
    return units_from_preference(preference)
