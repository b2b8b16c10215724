"""The per-run alert's whole path: Strava's webhook POST -> the run fetched from the simulator
over real HTTP through stravalib -> the per-run rule -> the alert through a real SMTP sink,
and as a short message through Apprise's `json://` to a local push service the test runs.

Real Redis broker with worker threads, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from strideguard.db import transaction
from strideguard.integrations.apprise import store
from tests.apprise.targets import Targets, serve_targets
from tests.worker import conftest as worker_conftest
from tests.worker import run_alert_world
from tests.worker.run_alert_world import World
from tests.worker.waiting import wait_for

# The worker tests' fixtures: a real SMTP sink and settings on the parametrised database.
env_for = worker_conftest.env_for
worker_env = worker_conftest.worker_env
smtp = worker_conftest.smtp


# The per-run alert world: clock, simulator, and the app with worker threads.
clock = run_alert_world.clock
sim = run_alert_world.sim
world = run_alert_world.world


@pytest.fixture
def targets() -> Iterator[Targets]:
    with serve_targets() as served:
        yield served


def part(message: EmailMessage, kind: str) -> str:
    body = message.get_body(preferencelist=(kind,))
    assert body is not None
    return str(body.get_content())


def test_a_long_run_reaches_the_runner_as_an_alert_minutes_after_its_webhook(
    world: World,
) -> None:
    world.new_run(9001, day=3, km=14.0)  # Thursday, 40% past the month's longest 10 km
    wait_for(lambda: len(world.smtp.inbox.messages) == 1, what="the alert in the SMTP sink")
    fetched = [r.path for r in world.sim.requests if r.path == "/api/v3/activities/9001"]
    assert fetched, "the run was read from Strava through stravalib"
    (message,) = world.smtp.inbox.messages
    assert str(message["To"]) == "rune@example.com"
    assert str(message["Subject"]) == (
        "Your run on Thu 16 Oct: one run 40% longer than your longest in 30 days"
    )
    text, html = part(message, "plain"), part(message, "html")
    for body in (text, html):
        assert "14.0 km" in body
        assert "10.0 km" in body
        assert "next few days" in body
        assert "Your next run: up to 15.4" in body  # the ceiling: 14 km x 1.1
        assert "HOW IS YOUR BACK THIS WEEK?" in body.upper()
        assert "bladder or bowel" in body
        assert "not medical advice" in body
        assert "/email/unsubscribe?token=" in body
    assert "/email/unsubscribe?token=" in str(message["List-Unsubscribe"])
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    wait_for(lambda: [a.status for a in world.alerts()] == ["sent"], what="the alert marked sent")


def test_the_alert_also_reaches_the_runners_push_channel_through_apprise(
    world: World, targets: Targets
) -> None:
    with transaction(world.runtime.sessions) as session:
        store.add(session, world.runtime.settings, world.athlete_id, targets.url("ok/rune-phone"))
    world.new_run(9002, day=3, km=14.0)
    wait_for(
        lambda: len(world.smtp.inbox.messages) == 1 and len(targets.payloads("/ok")) == 1,
        what="the alert by email and on the push channel",
    )
    [pushed] = targets.payloads("/ok")
    body = f"{pushed.get('title', '')}\n{pushed['message']}"
    assert "14.0 km" in body
    assert "10.0 km" in body  # the 30-day longest it is compared with
    assert "up to 15.4 km" in body  # the next-run ceiling: 14 km x 1.1, rounded down
    assert "not medical advice" in body.lower()
    assert "bladder or bowel" in body
    wait_for(
        lambda: (
            sorted(a.channel for a in world.alerts() if a.status == "sent") == ["apprise", "email"]
        ),
        what="both channels' alerts marked sent",
    )
