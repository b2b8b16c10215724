"""Creating the push subscription survives a callback that misses Strava's 2 s check once.

Strava checks the callback once per create. A web server that has just started, or a loaded
one, can answer late; `strideguard strava subscribe` then asks again rather than failing the
operator's deploy, and says what to check when the callback never answers in time.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from strideguard.cli.main import app as cli
from strideguard.integrations.strava.simulator import Simulator
from strideguard.integrations.strava.simulator.webhooks import ANSWER_WITHIN_S
from strideguard.integrations.strava.subscription import webhook_secret
from strideguard.models import StravaSubscription
from strideguard.settings import Settings, get_settings
from tests.webhook_receiver import Receiver

LATE_S = ANSWER_WITHIN_S + 0.5


@pytest.fixture
def callback(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """Strava's env from `settings`, with PUBLIC_BASE_URL at a receiver of our own."""
    receiver = Receiver()
    monkeypatch.setenv("PUBLIC_BASE_URL", receiver.base_url)
    get_settings.cache_clear()
    yield receiver
    get_settings.cache_clear()
    receiver.close()


def test_a_callback_late_on_its_first_check_is_subscribed_on_the_next(
    callback: Receiver, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    callback.check_delays = [LATE_S]
    done = CliRunner().invoke(cli, ["strava", "subscribe"])
    assert done.exit_code == 0, done.output
    assert "created subscription" in done.output
    assert len(callback.validations) == 2  # the late one, then the one that was answered
    [subscription] = sim.subscriptions
    with sessions() as session:
        assert session.scalars(select(StravaSubscription.subscription_id)).all() == [
            subscription.id
        ]


def test_a_callback_never_answering_in_time_fails_with_what_to_check(
    callback: Receiver, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    callback.check_delays = [LATE_S] * 99
    failed = CliRunner().invoke(cli, ["strava", "subscribe"])
    assert failed.exit_code == 1
    assert "could not verify the callback" in failed.output
    assert "PUBLIC_BASE_URL" in failed.output
    assert "within 2 s" in failed.output
    assert webhook_secret(get_settings()) not in failed.output  # the message goes in tickets
    assert len(callback.validations) == 3
    assert sim.subscriptions == []
    with sessions() as session:
        assert session.scalars(select(StravaSubscription)).all() == []
