"""Creating the push subscription survives a callback that misses Strava's 2 s check once.

Strava checks the callback once per create. A web server that has just started, or a loaded
one, can answer late; `strideguard strava subscribe` then asks again rather than failing the
operator's deploy, and says what to check when the callback never answers in time.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

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


class SlowCallback:
    """Echoes Strava's challenge, after `late_s` for the first `late_answers` checks."""

    def __init__(self, late_answers: int) -> None:
        self.late_answers = late_answers
        self.late_s = ANSWER_WITHIN_S + 0.5
        self.checks: list[str] = []
        callback = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                callback.checks.append(urlsplit(self.path).path)
                if len(callback.checks) <= callback.late_answers:
                    time.sleep(callback.late_s)
                challenge = parse_qs(urlsplit(self.path).query)["hub.challenge"][0]
                payload = json.dumps({"hub.challenge": challenge}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(OSError):  # Strava may have stopped waiting
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def public_url(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowCallback]:
    """Strava's env from `settings`, with PUBLIC_BASE_URL at a callback late once."""
    callback = SlowCallback(late_answers=1)
    monkeypatch.setenv("PUBLIC_BASE_URL", callback.url)
    get_settings.cache_clear()
    yield callback
    get_settings.cache_clear()
    callback.close()


def test_a_callback_late_on_its_first_check_is_subscribed_on_the_next(
    public_url: SlowCallback, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    done = CliRunner().invoke(cli, ["strava", "subscribe"])
    assert done.exit_code == 0, done.output
    assert "created subscription" in done.output
    assert len(public_url.checks) == 2  # the late one, then the one that was answered
    [subscription] = sim.subscriptions
    with sessions() as session:
        assert session.scalars(select(StravaSubscription.subscription_id)).all() == [
            subscription.id
        ]


def test_a_callback_never_answering_in_time_fails_with_what_to_check(
    public_url: SlowCallback, sim: Simulator, sessions: sessionmaker[Session]
) -> None:
    public_url.late_answers = 99
    failed = CliRunner().invoke(cli, ["strava", "subscribe"])
    assert failed.exit_code == 1
    assert "could not verify the callback" in failed.output
    assert "PUBLIC_BASE_URL" in failed.output
    assert "within 2 s" in failed.output
    assert webhook_secret(get_settings()) not in failed.output  # the message goes in tickets
    assert len(public_url.checks) == 3
    assert sim.subscriptions == []
    with sessions() as session:
        assert session.scalars(select(StravaSubscription)).all() == []
