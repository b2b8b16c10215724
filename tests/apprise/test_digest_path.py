"""The whole path with a second channel: the scheduler judges a risky week from the Strava
simulator over real HTTP, the digest goes by email through the real SMTP server, and a short
notice goes through Apprise's `json://` to a local HTTP service, on SQLite and PostgreSQL.

A second channel of the same runner hangs: the email and the first channel's notice arrive
while it still holds its request.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from strideguard.db import transaction
from strideguard.integrations.apprise import store
from strideguard.integrations.strava.simulator import Simulator
from strideguard.links import read_link_token
from strideguard.models import ChannelMessage, DeliveryRecord
from strideguard.runtime import WorkerRuntime
from strideguard.status import DeliveryStatus
from strideguard.worker.scheduler import Scheduler
from tests.apprise.targets import Targets
from tests.worker.conftest import SmtpServer
from tests.worker.test_pipeline import clock, connect_risky, pipeline_settings, running, sim
from tests.worker.waiting import wait_for

# The pipeline suite's world: the simulator over HTTP, real SMTP, Redis and worker threads.
__all__ = ["clock", "pipeline_settings", "running", "sim"]

TOPIC = "ntfy-like-secret-topic-9931"


@pytest.fixture(autouse=True)
def patient_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Longer than the test waits for the email: the hanging target must not be what ends it."""
    monkeypatch.setenv("CHANNEL_TIMEOUT_SECONDS", "60")


def test_digest_goes_by_email_and_as_a_notice_on_each_channel_and_a_hang_delays_neither(
    running: WorkerRuntime, sim: Simulator, smtp: SmtpServer, targets: Targets
) -> None:
    athlete = connect_risky(running, sim)
    with transaction(running.sessions) as session:
        store.add(session, running.settings, athlete, targets.url(f"hang/{TOPIC}"))
        store.add(session, running.settings, athlete, targets.url(f"ok/{TOPIC}"))

    Scheduler(running).tick()
    wait_for(
        lambda: len(smtp.inbox.messages) == 1 and len(targets.payloads("/ok")) == 1,
        what="the digest email and the first channel's notice",
    )
    # Both arrived while the other channel still holds its request open.
    assert targets.hanging.is_set()
    assert not targets.payloads("/hang")
    assert smtp.inbox.messages[0]["To"] == "risa@example.com"

    [notice] = targets.payloads("/ok")
    with running.sessions() as session:
        outbox_id = session.scalar(
            select(DeliveryRecord.id).where(DeliveryRecord.athlete_id == athlete)
        )
    assert notice["title"] == "strideguard: your weekly check (week of 13 October)"
    text = notice["message"]
    assert "Hi Runner, your weekly check for the week of 13 October is in your email" in text
    assert f"https://strideguard.example.org/me/digests/{outbox_id}" in text
    assert "Red flags: get checked the same day" in text
    assert "not medical advice" in text
    [stop] = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Stop")]
    assert stop.startswith("https://strideguard.example.org/email/channels?token=")
    token = parse_qs(urlsplit(stop).query)["token"][0]
    assert read_link_token(token, "preferences", running.settings)["athlete_id"] == athlete

    targets.release()
    wait_for(lambda: len(targets.payloads("/hang")) == 1, what="the slow channel's notice")
    time.sleep(0.3)
    with running.sessions() as session:
        statuses = sorted(session.scalars(select(ChannelMessage.status)))
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert len(smtp.inbox.messages) == 1
