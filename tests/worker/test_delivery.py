"""Delivery under faults: a worker SIGKILLed mid-send, a Redis flush, SMTP down, bounces.

Every case must end with each due digest sent exactly once, the failure visible on the row,
and recovery driven by the DB (the reconciler), not by dramatiq's 60 s heartbeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from sqlalchemy import update

from strideguard.db import transaction
from strideguard.integrations.email import outbox
from strideguard.integrations.email.render import TemplateRenderError
from strideguard.leases import GaveUp
from strideguard.models import Athlete, DeliveryRecord
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings
from strideguard.worker.embedded import InProcessWorker
from tests.faults.checks import assert_nothing_lost
from tests.worker.conftest import SmtpServer, add_athlete, queued
from tests.worker.digests import WEEK, add_digest, alert_count, athletes_with_digests, outbox_rows
from tests.worker.waiting import reconcile_until, wait_for, worker_process


@pytest.fixture
def mail_settings(
    worker_env: Callable[..., Settings], redis_url: str, redis_namespace: str, smtp: SmtpServer
) -> Settings:
    return worker_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, SMTP_URL=smtp.url)


@pytest.fixture
def mail_runtime(mail_settings: Settings) -> Iterator[WorkerRuntime]:
    runtime = start_runtime(mail_settings)
    yield runtime
    runtime.close()


@pytest.fixture
def threads(mail_runtime: WorkerRuntime) -> Iterator[InProcessWorker]:
    pool = InProcessWorker(mail_runtime, threads=2).start()
    yield pool
    pool.stop()


def nothing_lost(runtime: WorkerRuntime, smtp: SmtpServer) -> None:
    """The fault suite's end-of-case check, on mail alone: these digests were written here."""
    assert_nothing_lost(runtime.sessions, runtime.settings, inbox=smtp.inbox, mail_only=True)


def all_sent(runtime: WorkerRuntime) -> bool:
    rows = outbox_rows(runtime.sessions)
    return bool(rows) and all(row.status == "sent" for row in rows.values())


@pytest.mark.faults
def test_sigkill_mid_send_then_reconciler_delivers_exactly_once(
    mail_runtime: WorkerRuntime, smtp: SmtpServer
) -> None:
    outbox_id = athletes_with_digests(mail_runtime.sessions, 1)[0]
    alerts_before = alert_count(mail_runtime.sessions)
    release = threading.Event()
    smtp.inbox.stall = release

    first = worker_process()
    try:
        mail_runtime.jobs.send_digest(outbox_id)
        assert smtp.inbox.stalled.wait(60), "the worker never reached the SMTP DATA phase"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    smtp.inbox.stall = None
    release.set()
    # The dead worker left the row claimed; nothing went out.
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert row.status == "sending"
    assert smtp.inbox.messages == []

    second = worker_process()
    try:
        reconcile_until(mail_runtime, lambda: all_sent(mail_runtime), what="every digest sent")
        time.sleep(1)  # any stray redelivery would land now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    assert second.returncode == 0  # SIGTERM is a clean stop
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert row.status == "sent"
    assert row.attempts == 2
    assert len(smtp.inbox.messages) == 1
    assert smtp.inbox.ids() == [row.message_id]
    assert alert_count(mail_runtime.sessions) == alerts_before
    nothing_lost(mail_runtime, smtp)


@pytest.mark.faults
def test_redis_flush_with_jobs_queued_loses_no_email(
    mail_runtime: WorkerRuntime, smtp: SmtpServer, redis_namespace: str
) -> None:
    ids = athletes_with_digests(mail_runtime.sessions, 5)
    for outbox_id in ids:
        mail_runtime.jobs.send_digest(outbox_id)
    assert len(queued(mail_runtime, "email")) == 5
    client = redis.Redis.from_url(mail_runtime.settings.redis_url or "")
    for key in client.scan_iter(f"{redis_namespace}*"):
        client.delete(key)
    assert queued(mail_runtime, "email") == []

    pool = InProcessWorker(mail_runtime, threads=2).start()
    try:
        reconcile_until(mail_runtime, lambda: all_sent(mail_runtime), what="every digest sent")
        time.sleep(0.5)
    finally:
        pool.stop()
    rows = outbox_rows(mail_runtime.sessions)
    assert sorted(smtp.inbox.ids()) == sorted(rows[i].message_id for i in ids)
    nothing_lost(mail_runtime, smtp)


@pytest.mark.faults
def test_smtp_down_for_a_while_delays_mail_and_loses_none(
    mail_runtime: WorkerRuntime, smtp: SmtpServer, threads: InProcessWorker
) -> None:
    smtp.stop()
    outbox_id = athletes_with_digests(mail_runtime.sessions, 1)[0]
    mail_runtime.jobs.send_digest(outbox_id)

    def failed_twice() -> bool:
        row = outbox_rows(mail_runtime.sessions)[outbox_id]
        return row.attempts >= 2 and row.status == "pending"

    wait_for(failed_twice, what="two failed attempts while SMTP is down")
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert "TransientSendError: cannot reach" in (row.last_error or "")
    assert row.next_attempt_at is not None

    smtp.start()
    # No reconciler here: the sender's own backed-off retries deliver it.
    wait_for(lambda: all_sent(mail_runtime), what="delivery after SMTP came back")
    time.sleep(0.5)
    assert len(smtp.inbox.messages) == 1
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert row.last_error is None
    assert row.attempts >= 3
    nothing_lost(mail_runtime, smtp)


def test_permanent_bounce_marks_the_athlete_and_is_not_retried(
    mail_runtime: WorkerRuntime, smtp: SmtpServer, threads: InProcessWorker
) -> None:
    athlete = add_athlete(mail_runtime.sessions, email="gone@example.com")
    smtp.inbox.refuse.add("gone@example.com")
    first = add_digest(mail_runtime.sessions, athlete)
    mail_runtime.jobs.send_digest(first)
    wait_for(lambda: outbox_rows(mail_runtime.sessions)[first].status == "failed")
    time.sleep(1)  # a retry, if any, would have happened by now (backoff 0.2 s)
    row = outbox_rows(mail_runtime.sessions)[first]
    assert row.attempts == 1
    assert "550" in (row.last_error or "")
    with mail_runtime.sessions() as session:
        runner = session.get(Athlete, athlete)
        assert runner is not None
        assert runner.email_status == "bounced"
        assert "550" in (runner.email_status_reason or "")
    # The next week's digest is not attempted at all.
    second = add_digest(mail_runtime.sessions, athlete, WEEK + dt.timedelta(weeks=1))
    mail_runtime.jobs.send_digest(second)
    wait_for(lambda: outbox_rows(mail_runtime.sessions)[second].status == "cancelled")
    assert smtp.inbox.messages == []


def test_template_error_keeps_the_row_pending_and_sends_nothing(
    mail_runtime: WorkerRuntime, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_digest: object) -> None:
        raise TemplateRenderError("digest/body.html", 12, "'figures' is undefined")

    monkeypatch.setattr(outbox, "render_digest", broken)
    outbox_id = athletes_with_digests(mail_runtime.sessions, 1)[0]
    outbox.send_digest(mail_runtime, outbox_id)
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert row.status == "pending"
    assert row.attempts == 0  # a template bug is not the digest's attempt
    assert "digest/body.html:12" in (row.last_error or "")
    assert smtp.inbox.messages == []


def test_a_digest_that_keeps_killing_its_worker_gives_up_with_the_reason(
    mail_runtime: WorkerRuntime, smtp: SmtpServer
) -> None:
    outbox_id = athletes_with_digests(mail_runtime.sessions, 1)[0]
    # Three attempts each died holding the lease (SIGKILL, OOM): dramatiq cannot see that.
    with transaction(mail_runtime.sessions) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.id == outbox_id)
            .values(
                status="sending",
                attempts=mail_runtime.settings.job_max_attempts,
                crashes=mail_runtime.settings.job_max_attempts - 1,  # this claim finds the last
                lease_until=mail_runtime.clock() - dt.timedelta(seconds=1),
            )
        )
    with pytest.raises(GaveUp):
        outbox.send_digest(mail_runtime, outbox_id)
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert row.status == "failed"
    assert "gave up after 3 attempts" in (row.last_error or "")
    assert "killed or out of memory" in (row.last_error or "")
    assert smtp.inbox.messages == []


def test_one_crash_after_many_smtp_retries_does_not_give_the_digest_up(
    mail_runtime: WorkerRuntime, smtp: SmtpServer
) -> None:
    """Regression: the crash allowance counted every attempt, so a sender killed once after
    an SMTP outage had retried the digest a few times dropped it undelivered."""
    outbox_id = athletes_with_digests(mail_runtime.sessions, 1)[0]
    with transaction(mail_runtime.sessions) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.id == outbox_id)
            .values(
                status="sending",  # the sender died holding the lease, once
                attempts=mail_runtime.settings.job_max_attempts + 3,  # SMTP was down before
                last_error="TransientSendError: cannot reach smtp://127.0.0.1:25",
                lease_until=mail_runtime.clock() - dt.timedelta(seconds=1),
            )
        )
    outbox.send_digest(mail_runtime, outbox_id)
    row = outbox_rows(mail_runtime.sessions)[outbox_id]
    assert (row.status, row.crashes) == ("sent", 1)
    assert smtp.inbox.ids() == [row.message_id]


def test_late_alert_rides_along_with_the_next_digest_labelled_late(
    mail_runtime: WorkerRuntime,
    smtp: SmtpServer,
    threads: InProcessWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="strideguard")
    athlete = add_athlete(mail_runtime.sessions)
    earlier = WEEK - dt.timedelta(weeks=1)
    outbox_id = add_digest(mail_runtime.sessions, athlete, WEEK, late_from=earlier)
    mail_runtime.jobs.send_digest(outbox_id)
    wait_for(lambda: all_sent(mail_runtime))
    [message] = smtp.inbox.messages
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = " ".join(str(part.get_content()).split())
    assert "UPDATE ON THE WEEK OF 6 OCT" in text
    assert "You ran 61.0 km" in text  # the late finding's own figures
    assert "You ran 52.0 km" in text  # this week's
    # The late alert is now attached to the digest that carried it: it will not ride again.
    from sqlalchemy import select

    from strideguard.models import Alert

    with mail_runtime.sessions() as session:
        carriers = session.scalars(select(Alert.outbox_id).where(Alert.athlete_id == athlete)).all()
    assert carriers == [outbox_id, outbox_id]
    # The log line says which runner and which job, for grepping.
    [sent] = [r for r in caplog.records if r.getMessage() == "digest sent"]
    assert sent.__dict__["athlete_id"] == athlete
    assert len(sent.__dict__["job_id"]) == 36  # the dramatiq message id


def test_a_rule_in_last_weeks_email_too_is_labelled_a_repeat(
    mail_runtime: WorkerRuntime, smtp: SmtpServer, threads: InProcessWorker
) -> None:
    athlete = add_athlete(mail_runtime.sessions)
    add_digest(mail_runtime.sessions, athlete, WEEK - dt.timedelta(weeks=1))
    outbox_id = add_digest(mail_runtime.sessions, athlete, WEEK)
    mail_runtime.jobs.send_digest(outbox_id)
    wait_for(lambda: bool(smtp.inbox.messages))
    [message] = smtp.inbox.messages
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = " ".join(str(part.get_content()).split())
    assert "Second week in a row: this is the same check as last week's email." in text


def test_retention_purge_waits_for_a_fresh_digest_then_runs(mail_runtime: WorkerRuntime) -> None:
    from sqlalchemy import func, select

    from strideguard.integrations.strava import sync_jobs
    from strideguard.models import Activity

    athlete = add_athlete(mail_runtime.sessions)
    outbox_id = add_digest(mail_runtime.sessions, athlete)
    month_ago = mail_runtime.clock() - dt.timedelta(days=30)
    with transaction(mail_runtime.sessions) as session:
        session.add(
            Activity(
                strava_id=123,
                athlete_id=athlete,
                sport_type="Run",
                start_date=month_ago,
                start_date_local=month_ago.replace(tzinfo=None),
                distance_m=10000,
            )
        )

    def stored() -> int:
        with mail_runtime.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Activity)) or 0)

    sync_jobs.purge_expired(mail_runtime)
    assert stored() == 1  # the digest's chart still needs the rows
    assert len(queued(mail_runtime, "maintenance.DQ")) == 1  # looks again in a minute

    with transaction(mail_runtime.sessions) as session:
        session.execute(
            update(DeliveryRecord).where(DeliveryRecord.id == outbox_id).values(status="sent")
        )
    sync_jobs.purge_expired(mail_runtime)
    assert stored() == 0


def webhook_event(runtime: WorkerRuntime, owner_id: int, activity_id: int, attempts: int) -> int:
    from strideguard.models import WebhookEvent

    with transaction(runtime.sessions) as session:
        event = WebhookEvent(
            subscription_id=1,
            object_type="activity",
            object_id=activity_id,
            aspect_type="delete",
            owner_id=owner_id,
            event_time=1_760_000_000,
            updates={},
            attempts=attempts,
        )
        session.add(event)
        session.flush()
        return event.id


def test_webhook_event_that_keeps_killing_its_worker_gives_up(
    mail_runtime: WorkerRuntime,
) -> None:
    from strideguard.integrations.strava import webhook_jobs
    from strideguard.models import WebhookEvent

    add_athlete(mail_runtime.sessions, strava_id=4242)
    fine = webhook_event(mail_runtime, 4242, 55, attempts=0)
    webhook_jobs.process_event(mail_runtime, fine)
    # Three runs that each died before recording anything (the attempt was counted up front).
    poison = webhook_event(mail_runtime, 4242, 56, attempts=mail_runtime.settings.job_max_attempts)
    with pytest.raises(GaveUp):
        webhook_jobs.process_event(mail_runtime, poison)
    with mail_runtime.sessions() as session:
        done = session.get(WebhookEvent, fine)
        failed = session.get(WebhookEvent, poison)
        assert done is not None
        assert failed is not None
    assert (done.status, done.attempts) == ("processed", 1)
    assert failed.status == "failed"
    assert "gave up after 3 attempts" in (failed.last_error or "")
