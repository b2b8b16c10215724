"""The email address a runner gives us after connecting (Strava never shares it).

The form carries a signed token naming the athlete, so only the browser that just finished
connecting can set the address, and only for a day.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from strideguard.email_address import EmailAddressError, check_email_address
from strideguard.integrations.strava.context import StravaContext
from strideguard.models import Athlete
from strideguard.status import EmailStatus

FORM_MAX_AGE_S = 24 * 60 * 60


class EmailFormError(ValueError):
    """The form cannot be accepted; the message is shown to the runner."""


def _serializer(ctx: StravaContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.settings.signing_key(), salt="strideguard-connect-email")


def email_form_token(ctx: StravaContext, athlete_id: int) -> str:
    return str(_serializer(ctx).dumps({"athlete_id": athlete_id}))


def clean_email(entered: str) -> str:
    """The same rule as the preferences form (strideguard/email_address.py)."""
    try:
        return check_email_address(entered)
    except EmailAddressError as problem:
        raise EmailFormError(str(problem)) from None


def athlete_from_form(ctx: StravaContext, token: str) -> int:
    try:
        payload = _serializer(ctx).loads(token, max_age=FORM_MAX_AGE_S)
    except SignatureExpired:
        raise EmailFormError(
            "This form has expired; use the link in your settings to change your email."
        ) from None
    except BadSignature:
        raise EmailFormError("This form was altered; please connect again.") from None
    athlete_id = payload.get("athlete_id") if isinstance(payload, dict) else None
    if not isinstance(athlete_id, int):
        raise EmailFormError("This form was altered; please connect again.")
    return athlete_id


def save_email(ctx: StravaContext, athlete_id: int, email: str) -> None:
    with ctx.sessions.begin() as session:
        athlete = session.get(Athlete, athlete_id)
        if athlete is None:
            raise EmailFormError("We no longer hold a connection for you; please connect again.")
        if athlete.email != email:
            athlete.email = email
            athlete.email_status = EmailStatus.OK
            athlete.email_status_reason = None
