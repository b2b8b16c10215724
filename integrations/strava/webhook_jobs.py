"""Strava webhook events as jobs, and the seam through which the web routes hand work over.

The Strava box applies an event (`handle_event`); this module adds what a job runner owns:
deferral when the rate budget is spent, a limit on attempts recorded on the event row, and
re-judging a week that was already evaluated when one of its activities arrives late.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from strideguard.db import transaction
from strideguard.integrations.strava.context import strava_of
from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.integrations.strava.jobs import Enqueue, StravaJob
from strideguard.integrations.strava.webhooks import apply_activity_events, handle_event
from strideguard.leases import WEBHOOK_EVENT_LEASE, GaveUp, exhausted, gave_up_text, release
from strideguard.models import Activity, Athlete, StravaConnection, WebhookEvent
from strideguard.status import WebhookEventStatus
from strideguard.times import aware, week_start_of
from strideguard.worker.ports import JobHost

log = logging.getLogger(__name__)

# Events applied per transaction by a drain.
DRAIN_BATCH = 500
# A drain waits this long before it starts, so the events of the next moment share its run
# rather than each sending a drain of its own. Processing an event only marks it (the next
# window refresh reads the activity), so the wait costs the runner nothing.
GATHER_SECONDS = 0.2


def drain_events(host: JobHost) -> None:
    """The `drain_webhook_events` job: apply every waiting event that needs no Strava request."""
    time.sleep(GATHER_SECONDS)
    host.webhook_drains.started()
    mode = host.settings.strava_webhook_sync
    while True:
        now = host.clock()
        with transaction(host.sessions) as session:
            batch = apply_activity_events(session, mode, now, DRAIN_BATCH)
            reopened = reopen_weeks_of(host, session, batch.changed_activities, now)
        _evaluate_again(host, reopened)
        if batch.events < DRAIN_BATCH:
            return


def process_event(host: JobHost, event_id: int) -> None:
    """The `process_webhook_event` job."""
    gave_up: str | None = None
    with transaction(host.sessions) as session:
        # Locked (on PostgreSQL) so a drain holding the row finishes first and this sees it done.
        event = session.get(WebhookEvent, event_id, with_for_update=True)
        if event is None or event.status != WebhookEventStatus.RECEIVED:
            return
        if exhausted(event.attempts, host.settings.job_max_attempts):
            gave_up = gave_up_text(event.attempts, event.last_error)
            event.status = WebhookEventStatus.FAILED
            event.last_error = gave_up
        else:
            # Counted before the work, so a run that kills its worker is counted too; handed
            # back below once handle_event has counted (or, for a deferral, not) by itself.
            event.attempts += 1
        activity_id = event.object_id if event.object_type == "activity" else None
        aspect, owner, received_at = event.aspect_type, event.owner_id, aware(event.received_at)
    if gave_up is not None:
        raise GaveUp(gave_up)  # after the commit, so the reason stays on the row
    try:
        status = handle_event(strava_of(host), event_id)
    except BudgetExceeded as exc:
        log.info("Strava budget spent; webhook event %d deferred", event_id)
        host.jobs.process_webhook_event(event_id, delay=exc.retry_after_ms)
        return
    finally:
        with transaction(host.sessions) as session:
            release(session, WEBHOOK_EVENT_LEASE, WebhookEvent.id == event_id, uncount=True)
    if status == WebhookEventStatus.PROCESSED and activity_id is not None and aspect != "delete":
        with transaction(host.sessions) as session:
            reopened = reopen_weeks_of(host, session, [activity_id], host.clock())
        _evaluate_again(host, reopened)
        if aspect == "create" and host.settings.strava_webhook_sync != "deferred":
            queue_judgement(host, owner, activity_id, received_at)


def reopen_weeks_of(
    host: JobHost, session: Session, activity_ids: Iterable[int], now: dt.datetime
) -> list[tuple[int, dt.date]]:
    """Send back for judging the finished weeks these activities landed in (alerts come late)."""
    ids = list(activity_ids)
    if not ids:
        return []
    rows = session.execute(
        select(Activity.athlete_id, Activity.start_date_local).where(Activity.strava_id.in_(ids))
    ).all()
    weeks = sorted({(row.athlete_id, week_start_of(row.start_date_local.date())) for row in rows})
    return [
        (athlete_id, week)
        for athlete_id, week in weeks
        if host.reopen_week(session, athlete_id, week, now)
    ]


def queue_judgement(
    host: JobHost, owner_strava_id: int, activity_id: int, announced: dt.datetime | None
) -> None:
    """Queue the per-run judgement (a per-run alert, if it is risky) of a new activity of a
    known athlete; `announced` is when Strava told us of it.

    Queued whether or not the webhook could fetch it: with `auto`'s daily reads spent the run
    waits for the next window rather than go unjudged (the judgement's own refresh defers
    until the budget allows); a run Strava answered 404 for is simply not in that window.
    """
    with host.sessions() as session:
        athlete_id = session.scalar(
            select(Athlete.id).where(Athlete.strava_athlete_id == owner_strava_id)
        )
    if athlete_id is not None:
        host.jobs.judge_run(athlete_id, activity_id, announced=announced)


def _evaluate_again(host: JobHost, weeks: list[tuple[int, dt.date]]) -> None:
    for athlete_id, week in weeks:
        log.info(
            "late activity: week re-opened for evaluation",
            extra={"athlete_id": athlete_id, "week_start": week.isoformat()},
        )
        host.jobs.evaluate_week(athlete_id, week)


def strava_enqueue(host: JobHost) -> Enqueue:
    """The callable the web app uses as `app.state.strava_enqueue`: jobs go to our actors."""

    def enqueue(job: StravaJob) -> None:
        if job.kind == "backfill":
            with transaction(host.sessions) as session:
                _mark_sync_requested(session, job.target_id, host.clock())
            host.jobs.backfill(job.target_id)
        elif not job.batchable:
            host.jobs.process_webhook_event(job.target_id)
        elif host.webhook_drains.request():
            host.jobs.drain_webhook_events()

    return enqueue


def _mark_sync_requested(session: Session, athlete_id: int, now: dt.datetime) -> None:
    """Note the request on the connection so the reconciler re-sends a lost backfill."""
    session.execute(
        update(StravaConnection)
        .where(StravaConnection.athlete_id == athlete_id, StravaConnection.backfilled_at.is_(None))
        .values(sync_requested_at=now, sync_attempts=0)
    )
