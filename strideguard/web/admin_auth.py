"""Admin sessions: a hashed password from settings, a signed cookie, CSRF and throttling.

The admin view shows athletes' data, so it gets the full set: HttpOnly + SameSite=Strict
cookies (Secure over https), a CSRF token on every form, a session that the server can end
(strideguard.admin_sessions), and limits on failed logins, counted in the database so they hold
across web processes:

- per client: after MAX_FAILURES_PER_CLIENT failures in THROTTLE_WINDOW, that client waits for
  the window; the client is the connecting address, or the one a proxy named in TRUSTED_PROXIES
  forwards (strideguard.web.serving), so a forged X-Forwarded-For is just a header;
- overall: past MAX_FAILURES_OVERALL failures from anyone (guesses spread over many addresses),
  every client that has failed must wait a growing delay between attempts. A client that has
  not failed is never held back, so a stranger cannot lock the admin out.
"""

from __future__ import annotations

import datetime as dt
import hmac
import math
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from strideguard import admin_sessions
from strideguard.db import transaction
from strideguard.models import AdminLoginFailure, utcnow
from strideguard.services import Services
from strideguard.settings import Settings
from strideguard.times import aware

SESSION_COOKIE = "sg_admin"
LOGIN_CSRF_COOKIE = "sg_admin_login"
SESSION_MAX_AGE_S = int(admin_sessions.LIFETIME.total_seconds())
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_CLIENT = 5
MAX_FAILURES_OVERALL = 50
# The overall brake: the wait between a failed client's attempts starts at BRAKE_FIRST_DELAY
# and doubles with every BRAKE_STEP further failures, up to THROTTLE_WINDOW.
BRAKE_FIRST_DELAY = dt.timedelta(seconds=2)
BRAKE_STEP = 10


@dataclass(frozen=True)
class SignedIn:
    """The admin behind a request: the session to end at logout, the token their forms carry."""

    session_id: str
    csrf: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key(), salt="admin-session")


def _secure(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://")


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
        path="/admin",
    )


def start_session(request: Request, response: Response, services: Services) -> None:
    """Open a session for the admin who just gave the right password, and hand them its cookie."""
    settings = services.settings
    assert settings.admin_password_hash  # only a right password gets here
    with transaction(services.sessions) as session:
        session_id = admin_sessions.open_session(
            session, settings.admin_password_hash, client_key(request), utcnow()
        )
    token = _serializer(settings).dumps({"sid": session_id, "csrf": secrets.token_urlsafe(24)})
    set_cookie(response, settings, SESSION_COOKIE, token, SESSION_MAX_AGE_S)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")


def end_session(
    request: Request, response: Response, services: Services, signed_in: SignedIn | None
) -> None:
    """Revoke the session server-side, so copies of the cookie stop working too, and drop the
    cookie. None: the session is already over (idle, expired, revoked); only the cookie goes."""
    if signed_in is not None:
        with transaction(services.sessions) as session:
            admin_sessions.revoke(session, signed_in.session_id, utcnow())
    response.delete_cookie(SESSION_COOKIE, path="/admin")


def current_session(request: Request, services: Services) -> SignedIn | None:
    """The signed-in admin, if the cookie is genuine and its session still live in the database."""
    settings = services.settings
    token = request.cookies.get(SESSION_COOKIE)
    if not token or not settings.admin_password_hash:
        return None
    try:
        payload = _serializer(settings).loads(token, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    session_id, csrf = payload.get("sid"), payload.get("csrf")
    if not isinstance(session_id, str) or not isinstance(csrf, str):
        return None
    with transaction(services.sessions) as session:
        live = admin_sessions.touch(session, session_id, settings.admin_password_hash, utcnow())
    return SignedIn(session_id, csrf) if live else None


def csrf_matches(expected: str, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(expected, submitted)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def brake_delay(overall: int) -> dt.timedelta:
    """The wait between attempts of a client that has failed, with `overall` failures in the
    window (none below the cap)."""
    if overall < MAX_FAILURES_OVERALL:
        return dt.timedelta(0)
    doublings = min((overall - MAX_FAILURES_OVERALL) // BRAKE_STEP, 20)
    delay: dt.timedelta = BRAKE_FIRST_DELAY * (1 << doublings)
    return min(THROTTLE_WINDOW, delay)


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((aware(moment) - now).total_seconds()))


def throttled_for(
    session: Session, remote: str, now: dt.datetime | None = None, *, pending: int = 0
) -> int:
    """Seconds until `remote` may try again, or 0. Old failures are pruned on the way.

    `pending`: attempts of this request already recorded (and so counted) as failures; they
    are the newest rows of `remote`.
    """
    now = now or utcnow()
    since = now - THROTTLE_WINDOW
    session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.at < since))
    recent = AdminLoginFailure.at >= since
    mine = AdminLoginFailure.remote == remote
    count, oldest = session.execute(
        select(func.count(), func.min(AdminLoginFailure.at)).where(mine, recent)
    ).one()
    if count - pending >= MAX_FAILURES_PER_CLIENT:
        return max(1, _seconds_until(oldest + THROTTLE_WINDOW, now))
    overall = (session.scalar(select(func.count()).where(recent)) or 0) - pending
    if overall < MAX_FAILURES_OVERALL or count - pending <= 0:
        return 0
    last = session.scalar(
        select(AdminLoginFailure.at)
        .where(mine, recent)
        .order_by(AdminLoginFailure.at.desc(), AdminLoginFailure.id.desc())
        .offset(pending)
        .limit(1)
    )
    assert last is not None  # count - pending > 0 rows are older than this request's
    return _seconds_until(last + brake_delay(overall), now)


def record_failure(session: Session, remote: str) -> int:
    """Count an attempt as failed; its id, for `forget_attempt` when it was not."""
    failure = AdminLoginFailure(remote=remote)
    session.add(failure)
    session.flush()
    return failure.id


def forget_attempt(session: Session, failure_id: int) -> None:
    session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.id == failure_id))
