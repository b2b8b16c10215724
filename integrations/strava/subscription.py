"""Our one Strava push subscription: create it, repair it, remember its id and callback.

Strava allows one subscription per application. If one exists with another callback (an old
host name, or the old callback without its secret), it is deleted and ours created; the id
and callback are stored so the webhook can refuse events that name any other subscription.

Strava does not sign its events, so the callback itself is the credential: its last path
segment is derived from SECRET_KEY, cannot be guessed, and is never written to a log (see
strideguard/logs.py). The old callback without the segment still works for one release,
for a subscription made before it existed (routes.py logs a warning, the admin page shows one).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from stravalib import exc as strava_exc

from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.errors import StravaRejected
from strideguard.models import StravaSubscription

if TYPE_CHECKING:
    from stravalib.client import Client
    from stravalib.model import Subscription

    from strideguard.settings import Settings

WEBHOOK_PATH = "/strava/webhook"
# 128 bits of HMAC output, as hex: nothing to guess, and safe in any URL.
_SECRET_HEX = 32
# Strava checks the callback once per create and gives it 2 s; a web server that has just
# started (or a loaded one) can miss that, so the create is asked for a few times.
VERIFY_ATTEMPTS = 3
VERIFY_PAUSE_S = 1.0


def webhook_secret(settings: Settings) -> str:
    """The callback's secret path segment; the same in every process sharing SECRET_KEY."""
    key = settings.signing_key().encode()
    return hmac.new(key, b"strava-webhook-callback", hashlib.sha256).hexdigest()[:_SECRET_HEX]


def webhook_url(settings: Settings) -> str:
    return f"{settings.public_base_url}{WEBHOOK_PATH}/{webhook_secret(settings)}"


def is_legacy_callback(callback_url: str) -> bool:
    """True for a subscription made before the callback carried its secret."""
    return callback_url.rstrip("/").endswith(WEBHOOK_PATH)


def needs_resubscribe(session: Session) -> bool:
    """True while the stored subscription still uses the old callback without a secret."""
    callback = session.scalar(select(StravaSubscription.callback_url).limit(1))
    return callback is not None and is_legacy_callback(callback)


def ensure_subscription(ctx: StravaContext) -> list[str]:
    """Make Strava's push subscription point at us; returns what was done, line by line.

    The lines name the callback without its secret, since operators paste them into tickets.
    """
    client_id, client_secret = ctx.credentials()
    verify_token = ctx.settings.strava_webhook_verify_token
    if not verify_token:
        raise StravaRejected("STRAVA_WEBHOOK_VERIFY_TOKEN must be set to subscribe to webhooks")
    target = webhook_url(ctx.settings)
    shown = f"{ctx.settings.public_base_url}{WEBHOOK_PATH}/<secret>"
    client = ctx.client()
    done: list[str] = []
    ours: int | None = None
    for existing in client.list_subscriptions(client_id, client_secret):
        if existing.callback_url == target and existing.id is not None:
            ours = int(existing.id)
            done.append(f"kept subscription {ours} -> {shown}")
        elif existing.id is not None:
            client.delete_subscription(int(existing.id), client_id, client_secret)
            old = str(existing.callback_url)
            done.append(f"deleted subscription {existing.id} -> {_without_secret(old, target)}")
    if ours is None:
        created = _create(client, (client_id, client_secret), target, verify_token, shown)
        if created.id is None:
            raise StravaRejected("Strava created a subscription without an id")
        ours = int(created.id)
        done.append(f"created subscription {ours} -> {shown}")
    with ctx.sessions.begin() as session:
        session.execute(delete(StravaSubscription))
        session.add(StravaSubscription(subscription_id=ours, callback_url=target))
    return done


def _create(
    client: Client, credentials: tuple[int, str], target: str, verify_token: str, shown: str
) -> Subscription:
    """Create the subscription, asking again while Strava could not verify the callback."""
    client_id, client_secret = credentials
    for attempt in range(1, VERIFY_ATTEMPTS + 1):
        try:
            return client.create_subscription(client_id, client_secret, target, verify_token)
        except strava_exc.Fault as fault:
            if not _not_verifiable(fault):
                raise
            if attempt < VERIFY_ATTEMPTS:
                time.sleep(VERIFY_PAUSE_S)
    raise StravaRejected(
        f"Strava could not verify the callback {shown} ({VERIFY_ATTEMPTS} tries): check that "
        "PUBLIC_BASE_URL reaches this server from the internet, that `strideguard serve` is "
        "running, and that it answers GET on the callback within 2 s"
    )


def _not_verifiable(fault: strava_exc.Fault) -> bool:
    """True for Strava's 400 that means its GET to our callback failed or came too late."""
    response = fault.response
    if response is None or response.status_code != 400:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    errors = body.get("errors") if isinstance(body, dict) else None
    return isinstance(errors, list) and any(
        isinstance(e, dict) and e.get("code") == "not verifiable" for e in errors
    )


def _without_secret(url: str, target: str) -> str:
    secret = target.rsplit("/", 1)[1]
    return url.replace(secret, "<secret>")


class KnownSubscription:
    """The callback URL of the subscription a push event names, remembered for `ttl_s` s.

    Every webhook POST asks, and the answer only changes when an operator runs `strideguard
    strava subscribe`, so a database read per event is wasted. Only a known id is remembered: a
    forged id is looked up (and refused) every time, so requests cannot fill the memory. After a
    subscription is replaced, the old id is still accepted for up to `ttl_s` seconds; its events
    are about our own athletes, so nothing is let in that Strava did not send.
    """

    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        # (id, callback, when read); Strava allows one subscription
        self._ours: tuple[int, str, float] | None = None

    def callback_of(self, sessions: sessionmaker[Session], subscription_id: int) -> str | None:
        """The stored callback URL of `subscription_id`, or None when it is not ours."""
        now = self._clock()
        ours = self._ours
        if ours is not None and ours[0] == subscription_id and now - ours[2] < self._ttl_s:
            return ours[1]
        with sessions() as session:
            found = session.scalar(
                select(StravaSubscription.callback_url).where(
                    StravaSubscription.subscription_id == subscription_id
                )
            )
        if found is None:
            return None
        self._ours = (subscription_id, found, now)
        return found
