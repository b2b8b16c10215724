"""Webhook POSTs check the subscription id without a database read each time."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.subscription import KnownSubscription
from strideguard.models import StravaSubscription


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def replace_subscription(sessions: sessionmaker[Session], subscription_id: int) -> None:
    with sessions.begin() as session:
        session.execute(delete(StravaSubscription))
        session.add(StravaSubscription(subscription_id=subscription_id, callback_url="https://x/y"))


def test_our_id_is_remembered_for_the_ttl_and_read_again_after(
    sessions: sessionmaker[Session],
) -> None:
    replace_subscription(sessions, 11)
    ticks = Ticks()
    known = KnownSubscription(ttl_s=60, clock=ticks)
    assert known.callback_of(sessions, 11)
    replace_subscription(sessions, 12)  # `strideguard strava subscribe` made a new one
    ticks.now += 59
    assert known.callback_of(sessions, 11)  # still within the minute it is remembered for
    assert known.callback_of(sessions, 12)  # the new id is read at once
    ticks.now += 61
    assert not known.callback_of(sessions, 11)


def test_a_forged_id_is_refused_every_time_and_never_remembered(
    sessions: sessionmaker[Session],
) -> None:
    ticks = Ticks()
    known = KnownSubscription(ttl_s=60, clock=ticks)
    assert not known.callback_of(sessions, 11)  # no subscription yet
    replace_subscription(sessions, 11)
    assert known.callback_of(sessions, 11)  # a refusal was not remembered
    assert not known.callback_of(sessions, 666)
