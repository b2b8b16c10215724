"""Runner sign-in: one-time email links and the sessions they open, kept hashed in the database.

A link is a random token mailed to the runner plus a random nonce kept in a cookie of the
browser that asked; the row holds a SHA-256 of each. Opening the link needs both, so a
forwarded email or a mail scanner that fetches it cannot sign in (and does not use the link
up). Sessions work like `strideguard.admin_sessions`: the cookie holds a random id, the row its
hash, and signing out revokes the row for every copy of the cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Literal

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from strideguard.leases import rowcount
from strideguard.models import RunnerSession, RunnerSigninLink, RunnerSigninRequest
from strideguard.times import aware

LINK_LIFETIME = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(days=30)
THROTTLE_WINDOW = dt.timedelta(minutes=15)
# Requests per window: a runner may ask again a few times; a client may ask for a few people.
MAX_PER_ADDRESS = 3
MAX_PER_CLIENT = 10

LinkProblem = Literal["unknown", "used", "expired", "other_browser"]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem)
        self.problem: LinkProblem = problem


def throttle_keys(email: str, client: str) -> tuple[str, str]:
    return f"email:{sha256(email.strip().lower())}", f"client:{client[:64]}"


def throttled(session: Session, email: str, client: str, now: dt.datetime) -> bool:
    """Whether this address or this client has asked too often; old requests are pruned."""
    since = now - THROTTLE_WINDOW
    session.execute(delete(RunnerSigninRequest).where(RunnerSigninRequest.at < since))
    address_key, client_key = throttle_keys(email, client)
    counts: dict[str, int] = {
        key: count
        for key, count in session.execute(
            select(RunnerSigninRequest.key, func.count())
            .where(RunnerSigninRequest.key.in_((address_key, client_key)))
            .group_by(RunnerSigninRequest.key)
        )
    }
    return counts.get(address_key, 0) >= MAX_PER_ADDRESS or (
        counts.get(client_key, 0) >= MAX_PER_CLIENT
    )


def record_request(session: Session, email: str, client: str, now: dt.datetime) -> None:
    for key in throttle_keys(email, client):
        session.add(RunnerSigninRequest(key=key, at=now))


def issue_link(session: Session, athlete_id: int, now: dt.datetime, browser_nonce: str) -> str:
    """A new link token for the email; it opens only where `browser_nonce` is the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        RunnerSigninLink(
            token_hash=sha256(token),
            browser_hash=sha256(browser_nonce),
            athlete_id=athlete_id,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    return token


def spend_link(session: Session, token: str, browser_nonce: str | None, now: dt.datetime) -> int:
    """The athlete id the link signs in, marking it used; `LinkRefused` says why not.

    A link opened in another browser is refused but NOT used up, so the runner can still open
    it where they asked for it.
    """
    row = session.scalar(
        select(RunnerSigninLink).where(RunnerSigninLink.token_hash == sha256(token))
    )
    if row is None:
        raise LinkRefused("unknown")
    if row.used_at is not None:
        raise LinkRefused("used")
    if (aware(row.expires_at) or now) <= now:
        raise LinkRefused("expired")
    if not browser_nonce or not hmac.compare_digest(sha256(browser_nonce), row.browser_hash):
        raise LinkRefused("other_browser")
    spent = session.execute(
        update(RunnerSigninLink)
        .where(RunnerSigninLink.id == row.id, RunnerSigninLink.used_at.is_(None))
        .values(used_at=now)
    )
    if rowcount(spent) != 1:  # a second tab won the race
        raise LinkRefused("used")
    return row.athlete_id


def open_session(session: Session, athlete_id: int, now: dt.datetime) -> str:
    """A new session id for the cookie; only its hash is stored."""
    session_id = secrets.token_urlsafe(32)
    session.add(
        RunnerSession(
            id_hash=sha256(session_id),
            athlete_id=athlete_id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return session_id


def athlete_of(session: Session, session_id: str, now: dt.datetime) -> int | None:
    """The athlete a live session belongs to, or None."""
    return session.scalar(
        select(RunnerSession.athlete_id).where(
            RunnerSession.id_hash == sha256(session_id),
            RunnerSession.revoked_at.is_(None),
            RunnerSession.expires_at > now,
        )
    )


def revoke(session: Session, session_id: str, now: dt.datetime) -> None:
    session.execute(
        update(RunnerSession)
        .where(RunnerSession.id_hash == sha256(session_id), RunnerSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def purge(session: Session, now: dt.datetime) -> int:
    """Delete sign-in links past their 15 minutes and sessions that are over; the number
    deleted. The daily purge calls it, so neither table grows with every sign-in."""
    removed = 0
    for statement in (
        delete(RunnerSigninLink).where(RunnerSigninLink.expires_at <= now),
        delete(RunnerSession).where(
            or_(RunnerSession.revoked_at.is_not(None), RunnerSession.expires_at <= now)
        ),
        delete(RunnerSigninRequest).where(RunnerSigninRequest.at < now - THROTTLE_WINDOW),
    ):
        removed += rowcount(session.execute(statement))
    return removed
