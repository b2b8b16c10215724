"""The first result on connect: once the first backfill is done, the last closed week is
judged at once and the runner is welcomed.

`run_welcome(runtime, athlete_id)` is the job behind the `welcome_athlete` actor. The backfill
job sends it when it finishes, and the scheduler's sweep (`due_welcomes`) sends it again for a
runner who has been backfilled but not welcomed: one whose email address came after the
backfill (Strava never shares it), or whose message was lost. It:

1. stops when the runner was welcomed already (once per athlete: a reconnect that keeps the
   athlete gets no second welcome, and no week judged early either; disconnecting deletes the
   athlete, so connecting again after that is a new runner, welcomed anew), when there is no active
   backfilled connection yet, or when mail cannot reach them (no address yet: the sweep tries
   again for `WELCOME_WINDOW`);
2. judges the last closed week now, through the evaluation's own path on the window the
   backfill stored (each run once, as the sources joined count it), without asking Strava
   again (a backfill older than `STORED_IS_FRESH` may have lost rows to the retention purge,
   so the window is refreshed through the source first). The week's evaluation row is
   unique, so when the scheduler reaches that week (a runner who connects on a Monday before
   the week is due) it finds the row and sends nothing again. A risky week's digest is
   queued as any digest is;
3. writes the welcome (kind "welcome", named by that week) to the outbox and queues it.

Each step is guarded by a unique key, so a retry after a crash between them does the rest.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from strideguard import rules
from strideguard.activity_sources import counted, match_sources
from strideguard.db import transaction
from strideguard.gear import load_gear
from strideguard.leases import GaveUp
from strideguard.models import Activity, Athlete, DeliveryRecord, Evaluation, StravaConnection
from strideguard.status import ConnectionStatus, DeliveryKind, EmailStatus, EvaluationStatus
from strideguard.times import aware, week_start_of, zone_or_utc
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker import evaluation
from strideguard.worker.deliveries import add_delivery
from strideguard.worker.host import PipelineHost
from strideguard.worker.ports import Priority, SourceDeferred, SourceError, Window
from strideguard.worker.weeks import WEEK

log = logging.getLogger(__name__)

# How long after the backfill a runner can still be welcomed (their email address may come
# later, through the connect page's form, which stays valid for a day).
WELCOME_WINDOW = dt.timedelta(days=2)
# Stored rows are the whole window for this long after a sync; the daily purge may then have
# removed the older ones.
STORED_IS_FRESH = dt.timedelta(hours=1)
RECORD_FIELDS = [name for name in rules.ActivityRecord.__dataclass_fields__ if name != "athlete_id"]


def last_closed_week(now: dt.datetime, timezone: str) -> dt.date:
    """The Monday of the last week that has ended in the runner's zone."""
    return week_start_of(now.astimezone(zone_or_utc(timezone)).date()) - WEEK


def welcomed(session: Session, athlete_id: int) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(
                    DeliveryRecord.athlete_id == athlete_id,
                    DeliveryRecord.kind == DeliveryKind.WELCOME,
                )
            )
        )
    )


def due_welcomes(session: Session, now: dt.datetime) -> list[int]:
    """Runners backfilled within `WELCOME_WINDOW`, with an address we may write to, and not
    welcomed yet: the scheduler sends each a welcome job."""
    return list(
        session.scalars(
            select(Athlete.id)
            .join(StravaConnection, StravaConnection.athlete_id == Athlete.id)
            .where(
                StravaConnection.status == ConnectionStatus.ACTIVE,
                StravaConnection.backfilled_at > now - WELCOME_WINDOW,
                Athlete.email.is_not(None),
                Athlete.email_status == EmailStatus.OK,
                ~exists().where(
                    DeliveryRecord.athlete_id == Athlete.id,
                    DeliveryRecord.kind == DeliveryKind.WELCOME,
                ),
            )
            .order_by(Athlete.id)
        )
    )


def stored_window(session: Session, athlete_id: int, complete_from: dt.date) -> Window:
    """The activities a sync just stored, as the sources joined would have returned them
    (worker/sources.py): a run stored from Strava and from the runner's files counts once.
    The backfill stores Strava's copies without matching them to the files imported before,
    so they are matched here first; the caller commits the match."""
    match_sources(session, athlete_id)
    columns = [getattr(Activity, name) for name in RECORD_FIELDS]
    rows = session.execute(select(*columns).where(Activity.athlete_id == athlete_id, counted()))
    return Window(
        activities=[row._asdict() for row in rows],
        gear=load_gear(session, athlete_id),
        complete_from=complete_from,
    )


def shoes_unread(window: Window) -> bool:
    """Whether a stored run names a shoe whose distance is not known yet."""
    return any(
        row.get("gear_id") and row["gear_id"] not in window.gear for row in window.activities
    )


def run_welcome(runtime: PipelineHost, athlete_id: int) -> None:
    """The `welcome_athlete` job (see the module docstring for the steps)."""
    now = runtime.clock()
    context = {"athlete_id": athlete_id}
    with transaction(runtime.sessions) as session:
        athlete = session.get(Athlete, athlete_id)
        backfilled_at = aware(
            session.scalar(
                select(StravaConnection.backfilled_at).where(
                    StravaConnection.athlete_id == athlete_id,
                    StravaConnection.status == ConnectionStatus.ACTIVE,
                )
            )
        )
        if athlete is None or backfilled_at is None:
            log.info("no welcome: not connected or not backfilled yet", extra=context)
            return
        if welcomed(session, athlete_id):
            log.info("no welcome: welcomed already", extra=context)
            return
        week = last_closed_week(now, athlete.timezone)
        blocked = runtime.channel.blocked_reason(athlete, week)
        if blocked is not None:
            log.info("no welcome yet: %s", blocked, extra=context)
            return
        lookback = runtime.settings.lookback_weeks * WEEK
        window = None
        if now - backfilled_at <= STORED_IS_FRESH:
            stored = stored_window(session, athlete_id, (backfilled_at - lookback).date())
            # The backfill leaves shoes unread (one request each); judged without them, the
            # shoe-mileage rule could not fire for a week that is then closed for good.
            if not shoes_unread(stored):
                window = stored
    if window is None:
        try:
            # At evaluation priority, as the week's own evaluation would: it reads the shoes.
            window = runtime.source.refresh_window(athlete_id, Priority.EVALUATION)
        except SourceDeferred as exc:
            runtime.jobs.welcome(athlete_id, delay=exc.retry_after_ms)
            log.info("welcome deferred by %d ms", exc.retry_after_ms, extra=context)
            return
        except SourceError as exc:
            log.warning("no welcome: the source failed: %s", exc, extra=context)
            if exc.retryable:
                raise
            return
    digest_id = _judge_now(runtime, athlete_id, week, window, now)
    with transaction(runtime.sessions) as session:
        welcome_id = add_delivery(
            session,
            DeliveryKind.WELCOME,
            athlete_id,
            week,
            runtime.settings.public_base_url,
            runtime.clock(),
        )
    if welcome_id is not None:
        runtime.jobs.send_digest(welcome_id)
        log.info("welcome queued", extra={**context, "outbox_id": welcome_id})
    if digest_id is not None:
        runtime.jobs.send_digest(digest_id)
        log.info("digest of the last closed week queued", extra={**context, "outbox_id": digest_id})


def _judge_now(
    runtime: PipelineHost, athlete_id: int, week: dt.date, window: Window, now: dt.datetime
) -> int | None:
    """Judge `week` on `window` unless it was judged (or is being judged) already; the
    digest's outbox id when it fired."""
    with transaction(runtime.sessions) as session:
        session.execute(
            insert_ignoring_duplicates(session, Evaluation).values(
                athlete_id=athlete_id,
                week_start=week,
                status=EvaluationStatus.PENDING,
                due_at=now,
                attempts=0,
            )
        )
        claim_ = evaluation.claim(session, athlete_id, week, now, runtime.lease)
    if claim_ is None:
        return None
    try:
        return evaluation.judge_window(runtime, claim_, athlete_id, week, window)
    except GaveUp:
        raise
    except Exception as exc:
        # The row goes back to pending with the error; the reconciler re-sends it as an
        # ordinary evaluation, which refreshes the window itself.
        evaluation.record_failure(runtime, claim_, exc)
        raise
