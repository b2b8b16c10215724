"""Our one Strava push subscription: create it, repair it, remember its id.

Strava allows one subscription per application. If one exists with another callback (an old
host name, say), it is deleted and ours created; the id is stored so the webhook can refuse
events that name any other subscription.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from integrations.strava.context import StravaContext
from integrations.strava.errors import StravaRejected
from strideguard.models import StravaSubscription

WEBHOOK_PATH = "/strava/webhook"


def webhook_url(ctx: StravaContext) -> str:
    return ctx.settings.public_base_url + WEBHOOK_PATH


def ensure_subscription(ctx: StravaContext) -> list[str]:
    """Make Strava's push subscription point at us; returns what was done, line by line."""
    client_id, client_secret = ctx.credentials()
    verify_token = ctx.settings.strava_webhook_verify_token
    if not verify_token:
        raise StravaRejected("STRAVA_WEBHOOK_VERIFY_TOKEN must be set to subscribe to webhooks")
    target = webhook_url(ctx)
    client = ctx.client()
    done: list[str] = []
    ours: int | None = None
    for existing in client.list_subscriptions(client_id, client_secret):
        if existing.callback_url == target and existing.id is not None:
            ours = int(existing.id)
            done.append(f"kept subscription {ours} -> {target}")
        elif existing.id is not None:
            client.delete_subscription(int(existing.id), client_id, client_secret)
            done.append(f"deleted subscription {existing.id} -> {existing.callback_url}")
    if ours is None:
        created = client.create_subscription(client_id, client_secret, target, verify_token)
        if created.id is None:
            raise StravaRejected("Strava created a subscription without an id")
        ours = int(created.id)
        done.append(f"created subscription {ours} -> {target}")
    with ctx.sessions.begin() as session:
        session.execute(delete(StravaSubscription))
        session.add(StravaSubscription(subscription_id=ours, callback_url=target))
    return done


class KnownSubscription:
    """Whether a push event names our subscription, remembering a yes for `ttl_s` seconds.

    Every webhook POST asks, and the answer only changes when an operator runs `strideguard
    strava subscribe`, so a database read per event is wasted. Only a yes is remembered: a
    forged id is looked up (and refused) every time, so requests cannot fill the memory. After a
    subscription is replaced, the old id is still accepted for up to `ttl_s` seconds; its events
    are about our own athletes, so nothing is let in that Strava did not send.
    """

    def __init__(self, ttl_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._ours: tuple[int, float] | None = None  # (id, when read); Strava allows one

    def check(self, sessions: sessionmaker[Session], subscription_id: int) -> bool:
        now = self._clock()
        ours = self._ours
        if ours is not None and ours[0] == subscription_id and now - ours[1] < self._ttl_s:
            return True
        with sessions() as session:
            found = session.scalar(
                select(StravaSubscription.id).where(
                    StravaSubscription.subscription_id == subscription_id
                )
            )
        if found is None:
            return False
        self._ours = (subscription_id, now)
        return True
