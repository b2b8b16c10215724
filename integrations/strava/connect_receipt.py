"""A receipt for a finished connect, so reloading "You're connected" shows it again.

The state in the callback URL is spent once, so a reload (or going back to the page) replays
a used state, which alone looks like an attack or another browser. The browser that finished
connecting therefore keeps a signed receipt naming the athlete and a hash of that state: the
same URL in the same browser within the hour shows the connected page again. Nothing is
exchanged or stored a second time; any other replay is still refused.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from itsdangerous import BadSignature, URLSafeTimedSerializer

from strideguard.integrations.strava.context import StravaContext

RECEIPT_COOKIE = "sg_strava_connected"
RECEIPT_MAX_AGE = dt.timedelta(hours=1)


def _serializer(ctx: StravaContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.settings.signing_key(), salt="strideguard-connect-receipt")


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def make_receipt(ctx: StravaContext, state: str, athlete_id: int) -> str:
    return str(_serializer(ctx).dumps({"s": _state_hash(state), "a": athlete_id}))


def read_receipt(ctx: StravaContext, state: str | None, receipt: str | None) -> int | None:
    """The athlete this browser connected with exactly this `state`, or None."""
    if not state or not receipt or len(receipt) > 500:
        return None
    try:
        payload = _serializer(ctx).loads(receipt, max_age=int(RECEIPT_MAX_AGE.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("s") != _state_hash(state):
        return None
    athlete_id = payload.get("a")
    return athlete_id if isinstance(athlete_id, int) else None
