"""Re-enqueue whatever the database says is due, so a lost queue message only delays work.

The queue is a convenience: a Redis flush, a SIGKILLed worker or a crash between a commit and
its enqueue can each drop a message. Every job's row says whether the job still has to happen,
so the scheduler runs `Reconciler.run` on each tick and sends a fresh message for:

- evaluations pending and due, not held by a live attempt (`started_at` older than the lease);
- deliveries the channel says are due (`Channel.due_deliveries`: email's are pending with
  `next_attempt_at` passed, or `sending` under an expired lease);
- refreshes the activity source says are unfinished (`ActivitySource.unfinished_syncs`:
  Strava's are syncs asked for more than a lease ago, not done since and not held by a live
  attempt; the files source's are imports queued or held for longer than a lease);
- webhook events received more than a lease ago and still unprocessed.

A message sent for a job that is already queued is harmless (the job's claim drops the
duplicate), but a flood is not, so each job is re-sent at most once per lease period, counted
from an enqueue that succeeded (one that failed sent nothing, so it is tried on the next run).

That memory is wrong once the queue itself is gone: after Redis restarts empty (or could not be
reached), the messages sent in the last lease period may be lost, and waiting out the lease
(15 minutes by default) would stall every job. So the reconciler keeps a marker key in Redis;
when it finds the marker missing, or saw Redis fail since the last run, it forgets what it sent
and re-sends everything due at once. The scheduler probes the marker between ticks
(`queue_lost`), so the re-send follows Redis's return within seconds, not a tick later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import partial

import redis
from sqlalchemy import and_, or_, select

from strideguard.models import ChannelMessage, Evaluation, RunAlert, WebhookEvent
from strideguard.status import EvaluationStatus, WebhookEventStatus
from strideguard.worker.channel_messages import claimable as message_claimable
from strideguard.worker.host import PipelineHost
from strideguard.worker.run_alert_send import run_alert_due

log = logging.getLogger(__name__)

# Rows looked at per kind and tick; a backlog larger than this drains over several ticks.
BATCH = 500


@dataclass
class ReconcileReport:
    evaluations: int = 0
    emails: int = 0
    syncs: int = 0
    webhook_events: int = 0
    channel_messages: int = 0

    @property
    def total(self) -> int:
        return (
            self.evaluations
            + self.emails
            + self.syncs
            + self.webhook_events
            + self.channel_messages
        )


class Reconciler:
    """Finds due work in the DB and enqueues it; remembers what it sent for one lease period."""

    def __init__(self, runtime: PipelineHost) -> None:
        self._runtime = runtime
        self._sent: dict[Hashable, dt.datetime] = {}
        # Set when Redis failed or lost the marker: the next run re-sends everything due.
        self._lost = False
        self._marker = f"{runtime.settings.queue_namespace}:reconciler-marker"
        # The first marker this reconciler writes is a start, not a loss: what it sent since
        # it started went to the Redis it now talks to.
        self._marker_written = False

    def queue_lost(self) -> bool:
        """Whether Redis answers again after losing the queue or failing since the last run.

        False while Redis is unreachable (there is nothing to re-send to yet), but the outage
        is remembered. Always False for the in-process queue, which dies with its process.
        """
        client: redis.Redis | None = getattr(self._runtime.broker, "client", None)
        if client is None:
            return False
        try:
            if client.set(self._marker, "1", nx=True) and self._marker_written:
                self._lost = True  # the key was missing: Redis restarted empty or was flushed
            self._marker_written = True
        except redis.RedisError:
            self._lost = True
            return False
        return self._lost

    def resend_once(self, key: Hashable, now: dt.datetime, send: Callable[[], None]) -> bool:
        """Send for `key` unless sent within the lease (the scheduler's first sends and its
        welcome sweep), so a Redis failure in the middle marks the queue lost."""
        return self._resend(key, now, send)

    def _resend(self, key: Hashable, now: dt.datetime, send: Callable[[], None]) -> bool:
        """Send unless sent within the lease; remembered only once the enqueue succeeded."""
        sent = self._sent.get(key)
        if sent is not None and now - sent < self._runtime.lease:
            return False
        if not self._marker_written:
            # The marker goes before the first message: a Redis that restarts empty after
            # this is then seen as a loss, not as a start.
            self.queue_lost()
        try:
            send()
        except redis.RedisError:
            self._lost = True
            raise
        self._sent[key] = now
        return True

    def _forget_old(self, now: dt.datetime) -> None:
        lease = self._runtime.lease
        self._sent = {key: at for key, at in self._sent.items() if now - at < lease}

    def run(self, now: dt.datetime) -> ReconcileReport:
        self._forget_old(now)
        if self.queue_lost():
            if self._sent:
                log.warning("the queue was lost or unreachable: re-sending everything due now")
            self._sent.clear()
            self._lost = False
        report = ReconcileReport()
        runtime = self._runtime
        stale = now - runtime.lease
        jobs = runtime.jobs
        with runtime.sessions() as session:
            evaluations = session.execute(
                select(Evaluation.athlete_id, Evaluation.week_start)
                .where(
                    Evaluation.status == EvaluationStatus.PENDING,
                    Evaluation.due_at <= now,
                    or_(Evaluation.started_at.is_(None), Evaluation.started_at < stale),
                )
                .order_by(Evaluation.due_at)
                .limit(BATCH)
            ).all()
            emails = runtime.channel.due_deliveries(session, now, BATCH)
            syncs = runtime.source.unfinished_syncs(
                session, stale, runtime.settings.job_max_attempts, BATCH
            )
            run_alerts = session.scalars(
                select(RunAlert.id).where(run_alert_due(now)).order_by(RunAlert.id).limit(BATCH)
            ).all()
            messages = session.scalars(
                select(ChannelMessage.id)
                .where(message_claimable(now))
                .order_by(ChannelMessage.id)
                .limit(BATCH)
            ).all()
            events = session.scalars(
                select(WebhookEvent.id)
                .where(
                    and_(
                        WebhookEvent.status == WebhookEventStatus.RECEIVED,
                        WebhookEvent.received_at < stale,
                    )
                )
                .order_by(WebhookEvent.id)
                .limit(BATCH)
            ).all()
        for athlete_id, week_start in evaluations:
            key = ("evaluation", athlete_id, week_start)
            send = partial(jobs.evaluate_week, athlete_id, week_start)
            report.evaluations += self._resend(key, now, send)
        for outbox_id in emails:
            report.emails += self._resend(
                ("email", outbox_id), now, partial(jobs.send_digest, outbox_id)
            )
        for unfinished in syncs:
            sync = jobs.refresh_window if unfinished.backfilled else jobs.backfill
            send = partial(sync, unfinished.athlete_id)
            if unfinished.resend is not None:  # the source's own job, e.g. a file import
                send = partial(unfinished.resend, jobs)
            report.syncs += self._resend(unfinished.key, now, send)
        for alert_id in run_alerts:
            report.emails += self._resend(
                ("run_alert", alert_id), now, partial(jobs.send_run_alert, alert_id)
            )
        for event_id in events:
            report.webhook_events += self._resend(
                ("webhook", event_id), now, partial(jobs.process_webhook_event, event_id)
            )
        for message_id in messages:
            report.channel_messages += self._resend(
                ("channel", message_id), now, partial(jobs.send_channel_message, message_id)
            )
        if report.total:
            log.info(
                "reconciler re-enqueued %d evaluations, %d emails, %d syncs, %d webhook events, "
                "%d channel messages",
                report.evaluations,
                report.emails,
                report.syncs,
                report.webhook_events,
                report.channel_messages,
            )
        return report
