"""Small pieces every DB-backed job shares: error text for rows, and giving up.

A job's failures are recorded on its own row (evaluations, outbox_emails, strava_connections,
webhook_events) so an operator sees them in the database, not only in a log that rotated away.
"""

from __future__ import annotations

from sqlalchemy import CursorResult

ERROR_TEXT_LIMIT = 2000


class GaveUp(Exception):
    """A job reached its attempt limit; the row says why. Listed in every actor's `throws`."""


def error_text(exc: BaseException) -> str:
    """`Type: message`, cut to a length a TEXT column and a log line can carry."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:ERROR_TEXT_LIMIT]


def gave_up_text(attempts: int, last_error: str | None) -> str:
    reason = last_error or "the worker died without recording an error (killed or out of memory)"
    return f"gave up after {attempts} attempts; last error: {reason}"[:ERROR_TEXT_LIMIT]


def rowcount(result: object) -> int:
    """Rows an UPDATE matched; the claim succeeded only if it is 1."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
