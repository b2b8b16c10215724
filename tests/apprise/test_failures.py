"""What a channel's failure does: a 5xx is retried like email, a 4xx or a URL Apprise cannot
parse switches the channel off with the reason, and no channel URL reaches a log record.

The job runs in this process against a real local HTTP service through Apprise's `json://`,
on SQLite and PostgreSQL, with the real Redis broker taking the retries.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, update

from strideguard.crypto import channel_url_cipher
from strideguard.db import transaction
from strideguard.integrations.apprise import store
from strideguard.leases import GaveUp
from strideguard.models import Athlete, AthleteChannel, ChannelMessage
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.status import ChannelStatus, DeliveryStatus
from strideguard.web.admin_queries import failed_jobs
from strideguard.worker.channel_messages import (
    queue_digest_notices,
    queue_run_alert,
    send_channel_message,
)
from strideguard.worker.reconciler import Reconciler
from tests.apprise.targets import Targets
from tests.worker.conftest import add_athlete, queued

WEEK = dt.date(2025, 10, 13)
SECRET = "s3cr3t-b0t-t0ken-4711"


@pytest.fixture
def runtime(
    worker_env: Callable[..., Settings], redis_url: str, redis_namespace: str
) -> Iterator[WorkerRuntime]:
    built = start_runtime(
        worker_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, JOB_MAX_ATTEMPTS="3")
    )
    yield built
    built.close()


def add_channel(runtime: WorkerRuntime, athlete_id: int, url: str) -> int:
    with transaction(runtime.sessions) as session:
        return store.add(session, runtime.settings, athlete_id, url).id


def notice(runtime: WorkerRuntime, athlete_id: int, week: dt.date = WEEK) -> dict[int, int]:
    """Queue a digest notice; the new rows by channel id."""
    with transaction(runtime.sessions) as session:
        ids = queue_digest_notices(session, athlete_id, week, 77, runtime.clock())
        rows = session.scalars(select(ChannelMessage).where(ChannelMessage.id.in_(ids))).all()
        return {row.channel_id: row.id for row in rows}


def message(runtime: WorkerRuntime, message_id: int) -> ChannelMessage:
    with runtime.sessions() as session:
        return session.get_one(ChannelMessage, message_id)


def channel(runtime: WorkerRuntime, channel_id: int) -> AthleteChannel:
    with runtime.sessions() as session:
        return session.get_one(AthleteChannel, channel_id)


def due_now(runtime: WorkerRuntime, message_id: int) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(
            update(ChannelMessage)
            .where(ChannelMessage.id == message_id)
            .values(next_attempt_at=runtime.clock())
        )


def test_a_failing_service_is_retried_then_delivered_and_stays_on(
    runtime: WorkerRuntime, targets: Targets
) -> None:
    athlete = add_athlete(runtime.sessions)
    down = add_channel(runtime, athlete, targets.url(f"down/{SECRET}"))
    [message_id] = notice(runtime, athlete).values()

    send_channel_message(runtime, message_id)
    first = message(runtime, message_id)
    assert first.status == DeliveryStatus.PENDING
    assert first.attempts == 1
    assert first.last_error is not None
    assert "error=500" in first.last_error
    assert first.next_attempt_at is not None
    assert channel(runtime, down).status == ChannelStatus.ACTIVE

    targets.recover()
    due_now(runtime, message_id)
    send_channel_message(runtime, message_id)
    sent = message(runtime, message_id)
    assert sent.status == DeliveryStatus.SENT
    assert sent.sent_at is not None
    [payload] = targets.payloads("/down")
    assert payload["title"].startswith("strideguard: your weekly check")
    assert "https://strideguard.example.org/me/digests/77" in payload["message"]


def test_a_service_down_for_every_attempt_gives_up_with_the_reason_and_stays_on(
    runtime: WorkerRuntime, targets: Targets
) -> None:
    athlete = add_athlete(runtime.sessions)
    down = add_channel(runtime, athlete, targets.url("down/always"))
    [message_id] = notice(runtime, athlete).values()
    for _ in range(3):
        send_channel_message(runtime, message_id)
        due_now(runtime, message_id)
    failed = message(runtime, message_id)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.last_error is not None
    assert failed.last_error.startswith("gave up after 3 attempts")
    # A service that is down is not a refusal: the next message still goes to it.
    assert channel(runtime, down).status == ChannelStatus.ACTIVE
    with pytest.raises(GaveUp):
        _exhaust(runtime, message_id)


def _exhaust(runtime: WorkerRuntime, message_id: int) -> None:
    """A row that died holding its last attempt is given up by the next claim."""
    with transaction(runtime.sessions) as session:
        session.execute(
            update(ChannelMessage)
            .where(ChannelMessage.id == message_id)
            .values(status=DeliveryStatus.PENDING, next_attempt_at=runtime.clock())
        )
    send_channel_message(runtime, message_id)


def test_a_refused_target_and_an_unparseable_url_switch_their_channel_off_with_the_reason(
    runtime: WorkerRuntime, targets: Targets, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    athlete = add_athlete(runtime.sessions)
    gone = add_channel(runtime, athlete, targets.url(f"gone/{SECRET}"))
    working = add_channel(runtime, athlete, targets.url("ok/fine"))
    # A URL Apprise took once but no longer parses (e.g. a service dropped from Apprise).
    with transaction(runtime.sessions) as session:
        broken = AthleteChannel(
            athlete_id=athlete,
            kind="apprise",
            url_enc=channel_url_cipher(runtime.settings.fernet_key()).seal(f"tgram://{SECRET}"),
            label="Telegram (tgram://…)",
        )
        session.add(broken)
        session.flush()
        broken_id = broken.id
    rows = notice(runtime, athlete)
    for message_id in rows.values():
        send_channel_message(runtime, message_id)

    assert message(runtime, rows[working]).status == DeliveryStatus.SENT
    for channel_id, said in ((gone, "error=404"), (broken_id, "Apprise cannot use this tgram")):
        row = message(runtime, rows[channel_id])
        assert row.status == DeliveryStatus.FAILED
        assert row.attempts == 1  # refused for good: no retry
        switched = channel(runtime, channel_id)
        assert switched.status == ChannelStatus.OFF
        assert switched.off_reason is not None
        assert said in switched.off_reason
        assert SECRET not in switched.off_reason

    # The admin dashboard's failed jobs name them too.
    with runtime.sessions() as session:
        failed = [job for job in failed_jobs(session) if job.kind == "channel"]
    assert len(failed) == 2
    assert any("error=404" in job.error for job in failed)

    # The next week's notice goes to the working channel only.
    assert list(notice(runtime, athlete, WEEK + dt.timedelta(days=7))) == [working]
    # Adding a switched-off URL again switches it back on.
    with transaction(runtime.sessions) as session:
        again = store.add(session, runtime.settings, athlete, targets.url(f"gone/{SECRET}"))
        assert (again.id, again.status, again.off_reason) == (gone, ChannelStatus.ACTIVE, None)
    logged = [record.getMessage() for record in caplog.records]
    assert logged, "the sends log their outcomes"
    assert not [line for line in logged if SECRET in line or "/ok/fine" in line]


RUN_FACTS = {
    "runs": [
        {"run_date": "2025-10-15", "distance_m": 14200, "longest_30d_m": 10000, "ratio": 1.42}
    ],
    "ceiling": "up to 15.6 km",
    "units": "km",
    "week_start": WEEK.isoformat(),
}


def test_a_per_run_alert_goes_to_each_channel_once_and_a_pause_holds_it(
    runtime: WorkerRuntime, targets: Targets
) -> None:
    athlete = add_athlete(runtime.sessions)
    add_channel(runtime, athlete, targets.url("ok/runs"))
    with transaction(runtime.sessions) as session:
        [message_id] = queue_run_alert(session, athlete, "run:1", RUN_FACTS, runtime.clock())
        # The caller retried: the same key queues nothing more.
        assert queue_run_alert(session, athlete, "run:1", RUN_FACTS, runtime.clock()) == []
    send_channel_message(runtime, message_id)
    [payload] = targets.payloads("/ok/runs")
    assert payload["title"] == "strideguard: a long run on Wednesday 15 October"
    assert "42% longer than your longest in the 30 days before it" in payload["message"]

    with transaction(runtime.sessions) as session:
        session.execute(update(Athlete).where(Athlete.id == athlete).values(paused_until=WEEK))
        [paused] = queue_run_alert(session, athlete, "run:2", RUN_FACTS, runtime.clock())
    send_channel_message(runtime, paused)
    held = message(runtime, paused)
    assert held.status == DeliveryStatus.CANCELLED
    assert held.last_error == f"not sent: paused until {WEEK.isoformat()}"
    assert len(targets.payloads("/ok/runs")) == 1


def test_a_message_whose_job_was_lost_is_sent_again_by_the_reconciler(
    runtime: WorkerRuntime, targets: Targets
) -> None:
    athlete = add_athlete(runtime.sessions)
    add_channel(runtime, athlete, targets.url("ok/lost"))
    [message_id] = notice(runtime, athlete).values()  # written, but never enqueued
    reconciler = Reconciler(runtime)
    assert reconciler.run(runtime.clock()).channel_messages == 1
    assert len(queued(runtime, "channels")) == 1
    # Within the lease it is not sent twice.
    assert reconciler.run(runtime.clock()).channel_messages == 0
    send_channel_message(runtime, message_id)
    assert message(runtime, message_id).status == DeliveryStatus.SENT
    assert Reconciler(runtime).run(runtime.clock()).channel_messages == 0
