"""Strava webhook events as jobs, and the seam through which the web routes hand work over.

The Strava box applies an event (`handle_event`); this module adds what a job runner owns:
deferral when the rate budget is spent, a limit on attempts recorded on the event row, and
re-judging a week that was already evaluated when one of its activities arrives late.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from integrations.strava.errors import BudgetExceeded
from integrations.strava.jobs import Enqueue, StravaJob
from integrations.strava.webhooks import handle_event
from strideguard.db import transaction
from strideguard.models import Activity, StravaConnection, WebhookEvent
from worker.claims import GaveUp, gave_up_text
from worker.evaluation import reopen_for_late_activity
from worker.runtime import WorkerRuntime
from worker.weeks import week_start_of

log = logging.getLogger(__name__)


def process_event(runtime: WorkerRuntime, event_id: int) -> None:
    """The `process_webhook_event` job."""
    gave_up: str | None = None
    with transaction(runtime.sessions) as session:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.status != "received":
            return
        if event.attempts >= runtime.settings.job_max_attempts:
            gave_up = gave_up_text(event.attempts, event.last_error)
            event.status = "failed"
            event.last_error = gave_up
        else:
            # Counted before the work, so a run that kills its worker is counted too; handed
            # back below once handle_event has counted (or, for a deferral, not) by itself.
            event.attempts += 1
        activity_id = event.object_id if event.object_type == "activity" else None
        aspect = event.aspect_type
    if gave_up is not None:
        raise GaveUp(gave_up)  # after the commit, so the reason stays on the row
    try:
        status = handle_event(runtime.strava, event_id)
    except BudgetExceeded as exc:
        log.info("Strava budget spent; webhook event %d deferred", event_id)
        runtime.jobs.process_webhook_event(event_id, delay=exc.retry_after_ms)
        return
    finally:
        with transaction(runtime.sessions) as session:
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id == event_id)
                .values(attempts=WebhookEvent.attempts - 1)
            )
    if status == "processed" and activity_id is not None and aspect != "delete":
        reopen_week_of(runtime, activity_id)


def reopen_week_of(runtime: WorkerRuntime, activity_id: int) -> None:
    """Re-judge the already-evaluated week an activity landed in (its alerts will be late)."""
    now = runtime.clock()
    with transaction(runtime.sessions) as session:
        row = session.execute(
            select(Activity.athlete_id, Activity.start_date_local).where(
                Activity.strava_id == activity_id
            )
        ).first()
        if row is None:
            return
        week = week_start_of(row.start_date_local.date())
        reopened = reopen_for_late_activity(session, row.athlete_id, week, now)
    if reopened:
        log.info(
            "late activity: week re-opened for evaluation",
            extra={"athlete_id": row.athlete_id, "week_start": week.isoformat()},
        )
        runtime.jobs.evaluate_week(row.athlete_id, week)


def strava_enqueue(runtime: WorkerRuntime) -> Enqueue:
    """The callable the web app uses as `app.state.strava_enqueue`: jobs go to our actors."""

    def enqueue(job: StravaJob) -> None:
        if job.kind == "backfill":
            with transaction(runtime.sessions) as session:
                _mark_sync_requested(session, job.target_id, runtime.clock())
            runtime.jobs.backfill(job.target_id)
        else:
            runtime.jobs.process_webhook_event(job.target_id)

    return enqueue


def _mark_sync_requested(session: Session, athlete_id: int, now: dt.datetime) -> None:
    """Note the request on the connection so the reconciler re-sends a lost backfill."""
    session.execute(
        update(StravaConnection)
        .where(StravaConnection.athlete_id == athlete_id, StravaConnection.backfilled_at.is_(None))
        .values(sync_requested_at=now, sync_attempts=0)
    )
