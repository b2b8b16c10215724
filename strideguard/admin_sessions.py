"""Admin sessions kept in the database, so that one can be ended before its cookie expires.

A signed cookie alone cannot be taken back: a copy keeps working until it runs out. So each login
gets a row, every admin request must find that row live, and logging out or setting a new
ADMIN_PASSWORD_HASH ends it for every copy of the cookie.

The row holds a SHA-256 of the session id, never the id: whoever reads the database (a backup, a
replica) finds nothing to sign in with. The id is 32 random bytes, so an unsalted fast hash is
enough; there is no small space of ids to guess through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import CursorResult, delete, or_, update
from sqlalchemy.orm import Session

from strideguard.models import AdminSession

# A session ends after this long without a request, and in any case this long after login.
IDLE_TIMEOUT = dt.timedelta(minutes=30)
LIFETIME = dt.timedelta(hours=8)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def password_tag(password_hash: str) -> str:
    """Names the password hash a session was opened under, without storing that hash."""
    return _sha256(password_hash)


def open_session(session: Session, password_hash: str, remote: str, now: dt.datetime) -> str:
    """Record a new session and return its id, which only the cookie will hold."""
    session_id = secrets.token_urlsafe(32)
    session.add(
        AdminSession(
            id_hash=_sha256(session_id),
            password_tag=password_tag(password_hash),
            remote=remote[:64],
            created_at=now,
            last_seen_at=now,
            expires_at=now + LIFETIME,
        )
    )
    return session_id


def touch(session: Session, session_id: str, password_hash: str, now: dt.datetime) -> bool:
    """Whether `session_id` is live under this password; a live one is marked as seen `now`.

    One conditional UPDATE checks and extends at once, so no request slips in between.
    """
    result = session.execute(
        update(AdminSession)
        .where(
            AdminSession.id_hash == _sha256(session_id),
            AdminSession.password_tag == password_tag(password_hash),
            AdminSession.revoked_at.is_(None),
            AdminSession.expires_at > now,
            AdminSession.last_seen_at > now - IDLE_TIMEOUT,
        )
        .values(last_seen_at=now)
    )
    return isinstance(result, CursorResult) and result.rowcount == 1


def revoke(session: Session, session_id: str, now: dt.datetime) -> None:
    session.execute(
        update(AdminSession)
        .where(AdminSession.id_hash == _sha256(session_id), AdminSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the rows that can never be used again (revoked, idle too long, or past their
    lifetime); the number deleted."""
    result = session.execute(
        delete(AdminSession).where(
            or_(
                AdminSession.revoked_at.is_not(None),
                AdminSession.expires_at <= now,
                AdminSession.last_seen_at <= now - IDLE_TIMEOUT,
            )
        )
    )
    return result.rowcount if isinstance(result, CursorResult) else 0
