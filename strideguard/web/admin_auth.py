"""Admin sessions: a hashed password from settings, a signed cookie, CSRF and throttling.

The admin view shows athletes' data, so it gets the full set: HttpOnly + SameSite=Strict
cookies (Secure over https), a CSRF token on every form, and a cap on failed logins per client
and overall, counted in the database so it holds across web processes.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from strideguard.models import AdminLoginFailure, utcnow
from strideguard.settings import Settings

SESSION_COOKIE = "sg_admin"
LOGIN_CSRF_COOKIE = "sg_admin_login"
SESSION_MAX_AGE_S = 8 * 3600
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_CLIENT = 5
MAX_FAILURES_OVERALL = 50


@dataclass(frozen=True)
class AdminSession:
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


def start_session(response: Response, settings: Settings) -> None:
    token = _serializer(settings).dumps({"csrf": secrets.token_urlsafe(24)})
    set_cookie(response, settings, SESSION_COOKIE, token, SESSION_MAX_AGE_S)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")


def current_session(request: Request, settings: Settings) -> AdminSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        payload = _serializer(settings).loads(token, max_age=SESSION_MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("csrf"), str):
        return None
    return AdminSession(csrf=payload["csrf"])


def csrf_matches(expected: str, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(expected, submitted)


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def throttled_for(
    session: Session, remote: str, now: dt.datetime | None = None, *, pending: int = 0
) -> int:
    """Seconds until `remote` may try again, or 0. Old failures are pruned on the way.

    `pending`: attempts of this request already recorded (and so counted) as failures.
    """
    now = now or utcnow()
    since = now - THROTTLE_WINDOW
    session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.at < since))
    mine = session.execute(
        select(func.count(), func.min(AdminLoginFailure.at)).where(
            AdminLoginFailure.remote == remote, AdminLoginFailure.at >= since
        )
    ).one()
    overall = session.scalar(select(func.count()).where(AdminLoginFailure.at >= since)) or 0
    if mine[0] - pending < MAX_FAILURES_PER_CLIENT and overall - pending < MAX_FAILURES_OVERALL:
        return 0
    oldest = mine[1] or now
    if oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=dt.UTC)
    return max(1, int((oldest + THROTTLE_WINDOW - now).total_seconds()))


def record_failure(session: Session, remote: str) -> int:
    """Count an attempt as failed; its id, for `forget_attempt` when it was not."""
    failure = AdminLoginFailure(remote=remote)
    session.add(failure)
    session.flush()
    return failure.id


def forget_attempt(session: Session, failure_id: int) -> None:
    session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.id == failure_id))
