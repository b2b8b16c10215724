"""Signed, expiring tokens for the links in our emails.

Email links are the runner's only way in (there is no password), so each token binds the
athlete (and the rule, for mute) and one purpose. The purpose is the itsdangerous salt: a
mute token cannot unsubscribe anyone, and a leaked preferences link expires.
"""

from __future__ import annotations

from typing import Any, Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from strideguard.settings import Settings

Purpose = Literal["unsubscribe", "mute", "pause", "preferences", "checkin"]
PURPOSES: tuple[Purpose, ...] = ("unsubscribe", "mute", "pause", "preferences", "checkin")
DAY_S = 24 * 60 * 60
# Unsubscribe links must keep working long after the email arrived (people act on old mail).
MAX_AGE_S: dict[Purpose, int] = {
    "unsubscribe": 90 * DAY_S,
    "mute": 30 * DAY_S,
    "pause": 30 * DAY_S,
    "preferences": 30 * DAY_S,
    # The back-pain check-in records the week it is answered in, so an old email still works.
    "checkin": 30 * DAY_S,
}
Problem = Literal["tampered", "expired", "wrong_purpose"]


class LinkTokenError(Exception):
    """The token cannot be honoured; `.problem` says why, for a page that says what to do."""

    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = problem


def _serializer(settings: Settings, purpose: Purpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key(), salt=f"strideguard-link-{purpose}")


def make_link_token(
    athlete_id: int,
    purpose: Purpose,
    settings: Settings,
    extra: dict[str, Any] | None = None,
) -> str:
    """A URL-safe token for `purpose`; `extra` adds fields such as the muted rule id."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}; use one of {PURPOSES}")
    payload: dict[str, Any] = {**(extra or {}), "athlete_id": athlete_id}
    return str(_serializer(settings, purpose).dumps(payload))


def read_link_token(
    token: str, purpose: Purpose, settings: Settings, max_age_s: int | None = None
) -> dict[str, Any]:
    """The payload of a token made for `purpose`, or `LinkTokenError`.

    A signature that fails for `purpose` is tried against the other purposes so that the page
    can tell "this link is for something else" apart from "this link was altered".
    """
    age = MAX_AGE_S[purpose] if max_age_s is None else max_age_s
    try:
        payload = _serializer(settings, purpose).loads(token, max_age=age)
    except SignatureExpired:
        raise LinkTokenError("expired", f"this {purpose} link has expired") from None
    except BadSignature:
        for other in PURPOSES:
            if other != purpose and _valid_for(token, other, settings):
                raise LinkTokenError(
                    "wrong_purpose", f"this link is for {other}, not {purpose}"
                ) from None
        raise LinkTokenError("tampered", "this link is damaged or was altered") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("athlete_id"), int):
        raise LinkTokenError("tampered", "this link does not name an athlete")
    return payload


def _valid_for(token: str, purpose: Purpose, settings: Settings) -> bool:
    try:
        _serializer(settings, purpose).loads(token)
    except BadSignature:
        return False
    return True
