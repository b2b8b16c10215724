"""Strava syncs as jobs: the Strava box does the syncing, this module does the bookkeeping.

Attempts are counted on `strava_connections.sync_attempts` *before* each try and reset on
success, so a sync that keeps killing its worker is counted too and stops after
JOB_MAX_ATTEMPTS with the reason in `last_error`. A spent rate budget is not a failure: the
job re-enqueues itself for the next window, gives the attempt back and moves
`sync_requested_at` to that window, so the reconciler does not re-send it meanwhile.

Each attempt holds a lease (`sync_started_at`) while it runs. A message for a sync that is
held by a live attempt, or for a first sync already done, is dropped before any Strava request:
a deferred backfill may arrive twice (its own delayed message and the reconciler's re-send),
and a runner may click "Connect" twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard import admin_sessions, leases, runner_sessions
from strideguard.activity_sources import purge_files
from strideguard.db import transaction
from strideguard.integrations.strava import sync
from strideguard.integrations.strava.context import strava_of
from strideguard.integrations.strava.errors import BudgetExceeded, StravaError
from strideguard.integrations.strava.webhooks import purge_handled_events
from strideguard.leases import SYNC_LEASE, GaveUp, error_text, gave_up_text
from strideguard.models import DeliveryRecord, Evaluation, StravaConnection, utcnow
from strideguard.status import ConnectionStatus, DeliveryStatus, EvaluationStatus
from strideguard.times import aware
from strideguard.worker.ports import JobHost, Priority

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a deferred purge waits before looking again, and how old a waiting digest may be
# before the purge stops waiting for it.
PURGE_RETRY = dt.timedelta(minutes=1)
PURGE_WAITS_FOR_DIGESTS = dt.timedelta(hours=1)


def _claim(host: JobHost, athlete_id: int, *, first_sync: bool) -> bool:
    """Count the attempt and take the lease; False when there is nothing to do.

    One conditional UPDATE, so of two messages arriving together exactly one claims.
    """
    now = host.clock()
    live_since = now - host.lease
    claimable = [
        StravaConnection.athlete_id == athlete_id,
        StravaConnection.status == ConnectionStatus.ACTIVE,
        StravaConnection.sync_attempts < host.settings.job_max_attempts,
    ]
    if first_sync:
        claimable.append(StravaConnection.backfilled_at.is_(None))
    gave_up: str | None = None
    with transaction(host.sessions) as session:
        if leases.claim(session, SYNC_LEASE, *claimable, now=now, duration=host.lease):
            return True
        connection = session.scalar(
            select(StravaConnection).where(StravaConnection.athlete_id == athlete_id)
        )
        skipped = _why_skipped(connection, first_sync=first_sync, live_since=live_since)
        if skipped is None and connection is not None:
            # Recorded (committed) first, then raised: the reason must outlive the job.
            gave_up = gave_up_text(connection.sync_attempts, connection.last_error)
            connection.last_error = gave_up
            connection.sync_requested_at = None
    if gave_up is not None:
        raise GaveUp(gave_up)
    log.info("Strava sync not run: %s", skipped, extra={"athlete_id": athlete_id})
    return False


def _why_skipped(
    connection: StravaConnection | None, *, first_sync: bool, live_since: dt.datetime
) -> str | None:
    """Why an unclaimable sync is simply dropped; None when its attempts are used up."""
    if connection is None or connection.status != ConnectionStatus.ACTIVE:
        return "no active Strava connection"
    if first_sync and connection.backfilled_at is not None:
        return "the first sync is already done"
    started = aware(connection.sync_started_at)
    if started is not None and started >= live_since:
        return "another attempt is running it"
    return None


def _release(
    host: JobHost, athlete_id: int, values: Mapping[str, object], *, uncount: bool = False
) -> None:
    """End the attempt: free the lease and record its outcome."""
    with transaction(host.sessions) as session:
        leases.release(
            session,
            SYNC_LEASE,
            StravaConnection.athlete_id == athlete_id,
            uncount=uncount,
            **values,
        )


def run_sync(
    host: JobHost,
    athlete_id: int,
    do_sync: Callable[[], T],
    resend: Callable[[int], None],
    *,
    first_sync: bool = False,
) -> T | None:
    """Run `do_sync` with the claim, failure recording and budget deferral; its result, or
    None when it did not run to the end (nothing to do, or deferred)."""
    if not _claim(host, athlete_id, first_sync=first_sync):
        return None
    try:
        result = do_sync()
    except BudgetExceeded as exc:
        due = host.clock() + dt.timedelta(milliseconds=exc.retry_after_ms)
        _release(
            host,
            athlete_id,
            {"sync_requested_at": due},
            uncount=True,
        )
        log.info(
            "Strava budget spent; sync deferred by %d ms",
            exc.retry_after_ms,
            extra={"athlete_id": athlete_id},
        )
        resend(exc.retry_after_ms)
        return None
    except StravaError as exc:
        # Revoked, not connected, or refused outright: no retry can help, so stop asking.
        _release(
            host,
            athlete_id,
            {"last_error": error_text(exc)}
            | ({} if exc.retryable else {"sync_requested_at": None}),
        )
        raise
    except Exception as exc:
        _release(host, athlete_id, {"last_error": error_text(exc)})
        raise
    _release(host, athlete_id, {"sync_attempts": 0, "sync_requested_at": None})
    return result


def backfill(host: JobHost, athlete_id: int) -> None:
    """The first sync after connect; the shoes it leaves unread go to the `read_gear` job,
    and the runner's first result to the `welcome_athlete` job."""
    report = run_sync(
        host,
        athlete_id,
        lambda: sync.backfill(strava_of(host), athlete_id),
        lambda delay: host.jobs.backfill(athlete_id, delay=delay),
        first_sync=True,
    )
    if report is None:
        return
    if report.gear_unread:
        host.jobs.read_gear(athlete_id)
    # The first result: the last closed week judged and a welcome (worker/welcome.py).
    host.jobs.welcome(athlete_id)


def refresh_window(host: JobHost, athlete_id: int) -> None:
    run_sync(
        host,
        athlete_id,
        lambda: sync.refresh_window(strava_of(host), athlete_id, priority=Priority.BACKGROUND),
        lambda delay: host.jobs.refresh_window(athlete_id, delay=delay),
    )


def purge_busy_reason(session: Session, now: dt.datetime, lease: dt.timedelta) -> str | None:
    """Why the retention purge should wait a little, or None.

    A digest renders its weekly chart from activity rows just refreshed for its evaluation, so
    the purge waits while a week is being judged or a fresh digest is on its way. Only fresh
    digests count: one stuck for longer (SMTP down) must not hold retention back.
    """
    judging = session.scalar(
        select(Evaluation.id)
        .where(Evaluation.status == EvaluationStatus.PENDING, Evaluation.started_at > now - lease)
        .limit(1)
    )
    if judging is not None:
        return "a week is being judged"
    sending = session.scalar(
        select(DeliveryRecord.id)
        .where(
            DeliveryRecord.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING)),
            DeliveryRecord.created_at > now - PURGE_WAITS_FOR_DIGESTS,
        )
        .limit(1)
    )
    return None if sending is None else "a digest is being sent"


def purge_expired(host: JobHost) -> None:
    """The daily purge: admin and runner sessions and sign-in links that are over, at once;
    then activities past retention (Strava's: RETENTION_DAYS, its cache terms; the runner's
    own files: FILE_RETENTION_DAYS), after in-flight evaluations and mail, and old webhook
    events."""
    with transaction(host.sessions) as session:  # the web stamps these by the wall clock
        ended = admin_sessions.purge(session, utcnow())
        runner_ended = runner_sessions.purge(session, utcnow())
    log.info("purged %d ended admin sessions, %d runner sign-in rows", ended, runner_ended)
    now = host.clock()
    with host.sessions() as session:
        busy = purge_busy_reason(session, now, host.lease)
    if busy is not None:
        log.info("retention purge deferred: %s", busy)
        host.jobs.purge_expired(delay=int(PURGE_RETRY.total_seconds() * 1000))
        return
    removed = sync.purge_expired(host.sessions, host.settings.retention_days, now)
    log.info(
        "purged %d Strava activities older than %d days", removed, host.settings.retention_days
    )
    file_days = host.settings.file_retention_days
    with transaction(host.sessions) as session:
        files = purge_files(session, file_days, now)
    log.info("purged %d activities from files older than %d days", files, file_days)
    days = host.settings.webhook_event_retention_days
    events = purge_handled_events(host.sessions, days, now)
    log.info("purged %d webhook events handled more than %d days ago", events, days)
