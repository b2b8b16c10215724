"""Strava push events: strict validation, idempotent recording, and what each event means.

The POST handler must answer within Strava's 2 s (we aim for 50 ms), so it only validates,
records and enqueues; the work happens in a job. Anything that is not exactly a Strava event is
refused with a message naming the field, and nothing is recorded.

Nearly every event is an activity created or updated, and needs no Strava request (the next
window refresh reads the changes): `apply_activity_events` applies those many to a
transaction. `handle_event` applies one event of any kind, including the ones that do need a
request (deletions, deauthorization, and new runs with STRAVA_WEBHOOK_SYNC=auto or immediate).

Strava does not sign its events, so nothing is deleted on an event's word alone: a deletion
is confirmed with Strava first (the activity answers 404; the athlete's token and its refresh
are refused). An event Strava contradicts ends `forged`, is logged at WARNING with the address
it came from, and changes nothing. Strava's terms allow 48 hours for a deletion, so a
confirmation deferred to the next rate window is still in time.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, delete, false, select, update
from sqlalchemy.orm import Session, sessionmaker
from stravalib import Client

from strideguard.integrations.strava.athlete_api import AthleteApi, StravaNotFound
from strideguard.integrations.strava.context import StravaContext
from strideguard.integrations.strava.disconnect import delete_athlete_data
from strideguard.integrations.strava.errors import (
    BudgetExceeded,
    ConnectionRevoked,
    NotConnected,
    StravaError,
)
from strideguard.integrations.strava.sync import delete_activity, sync_one_activity
from strideguard.models import Activity, Athlete, WebhookEvent, utcnow
from strideguard.status import WebhookEventStatus
from strideguard.upsert import insert_ignoring_duplicates
from strideguard.worker.ports import Priority

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
# Ids and times are stored in BIGINT columns; a larger number must be refused, not crash the insert.
MAX_ID = 2**63 - 1

_INT_FIELDS = ("event_time", "object_id", "owner_id", "subscription_id")
_CHOICES = {"aspect_type": ("create", "update", "delete"), "object_type": ("activity", "athlete")}
_FIELDS = frozenset((*_INT_FIELDS, *_CHOICES, "updates"))


class EventError(ValueError):
    """The body is not a Strava event; the message says which field and why."""


@dataclass(frozen=True)
class PushEvent:
    aspect_type: str
    event_time: int
    object_id: int
    object_type: str
    owner_id: int
    subscription_id: int
    updates: dict[str, str]


def parse_event(body: bytes) -> PushEvent:
    try:
        raw = json.loads(body)
    except RecursionError:
        raise EventError("body is not a Strava event: JSON nested too deeply") from None
    except ValueError as error:  # bad UTF-8, bad JSON, or an integer of thousands of digits
        raise EventError(f"body is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise EventError("body must be a JSON object")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise EventError(f"unknown field {unknown[0]!r}")
    missing = sorted(name for name in _FIELDS - {"updates"} if name not in raw)
    if missing:
        raise EventError(f"missing field {missing[0]!r}")
    for name in _INT_FIELDS:
        value = raw[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_ID:
            raise EventError(f"field {name!r} must be a non-negative integer below 2**63")
    for name, allowed in _CHOICES.items():
        if raw[name] not in allowed:
            raise EventError(f"field {name!r} must be one of {', '.join(allowed)}")
    updates = raw.get("updates", {})
    if not isinstance(updates, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in updates.items()
    ):
        raise EventError("field 'updates' must be an object of strings")
    return PushEvent(
        aspect_type=raw["aspect_type"],
        event_time=raw["event_time"],
        object_id=raw["object_id"],
        object_type=raw["object_type"],
        owner_id=raw["owner_id"],
        subscription_id=raw["subscription_id"],
        updates=dict(updates),
    )


def applies_in_batch(event: PushEvent, sync_mode: str) -> bool:
    """Whether the event needs no Strava request, so many can be applied in one transaction.

    A deletion is never one of them: it is confirmed with Strava first. Keep in step with
    `_batchable`, the same test in SQL.
    """
    return (
        event.object_type == "activity"
        and event.aspect_type != "delete"
        and sync_mode == "deferred"
    )


def _batchable(sync_mode: str) -> ColumnElement[bool]:
    if sync_mode == "deferred":
        return and_(WebhookEvent.object_type == "activity", WebhookEvent.aspect_type != "delete")
    return false()


def record_event(ctx: StravaContext, event: PushEvent, client_address: str) -> int | None:
    """Store the event; its id, or None when Strava re-sent one we already have.

    One statement, decided by the unique key on the event's identity, so two copies arriving
    at once cannot both be recorded and a re-send costs no error path. Being one statement, it
    runs in autocommit: no BEGIN and COMMIT round trips on a path that must answer at once.
    """
    with ctx.sessions() as session:
        connection = session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        event_id: int | None = connection.scalar(
            _record_statement(connection.dialect.name),
            {
                "subscription_id": event.subscription_id,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "aspect_type": event.aspect_type,
                "owner_id": event.owner_id,
                "event_time": event.event_time,
                "updates": event.updates,
                "status": WebhookEventStatus.RECEIVED,
                "attempts": 0,
                "received_at": ctx.clock(),
                "client_address": client_address[:64],
            },
        )
        return event_id


@functools.cache
def _record_statement(dialect: str) -> Insert:
    """Built once: constructing the statement cost more CPU than running it (a POST each)."""
    table = WebhookEvent.__table__
    return insert_ignoring_duplicates(dialect, table).returning(table.c.id)


@dataclass(frozen=True)
class AppliedBatch:
    events: int
    # Strava ids of activities created or updated for athletes we know: their weeks may need
    # judging again.
    changed_activities: list[int]


def apply_activity_events(
    session: Session, sync_mode: str, now: dt.datetime, limit: int
) -> AppliedBatch:
    """Apply up to `limit` waiting events that need no Strava request, in the caller's transaction.

    The same outcome as `handle_event` for each (a create or an update is left to the next
    window refresh; an unknown athlete's event is ignored), at a
    handful of statements per batch instead of several transactions per event. Two batches
    running at once never apply an event twice: PostgreSQL skips rows another batch has
    locked, and on SQLite only the first writer finds the row still `received`.
    """
    rows = session.execute(
        select(WebhookEvent.id, WebhookEvent.object_id, WebhookEvent.owner_id)
        .where(WebhookEvent.status == WebhookEventStatus.RECEIVED, _batchable(sync_mode))
        .order_by(WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return AppliedBatch(0, [])
    known = set(
        session.scalars(
            select(Athlete.strava_athlete_id).where(
                Athlete.strava_athlete_id.in_({row.owner_id for row in rows})
            )
        )
    )
    ours = [row for row in rows if row.owner_id in known]
    for status, ids in (
        (WebhookEventStatus.PROCESSED, [row.id for row in ours]),
        (WebhookEventStatus.IGNORED, [row.id for row in rows if row.owner_id not in known]),
    ):
        if ids:
            # The status test matters on SQLite, where nothing locks the rows read above: a
            # second drain that read them too then changes nothing.
            session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.id.in_(ids), WebhookEvent.status == WebhookEventStatus.RECEIVED)
                .values(
                    status=status,
                    attempts=WebhookEvent.attempts + 1,
                    last_error=None,
                    processed_at=now,
                )
            )
    return AppliedBatch(len(rows), [row.object_id for row in ours])


def handle_event(ctx: StravaContext, event_id: int) -> str:
    """Apply one recorded event; returns the status it ends in. Safe to run twice.

    Activity create/update costs a request only with STRAVA_WEBHOOK_SYNC=immediate; by default
    the next window refresh (which every evaluation does) picks the change up for free.
    Deletions cost one request each, to confirm them (see the module docstring).
    """
    with ctx.sessions() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.status in (
            WebhookEventStatus.PROCESSED,
            WebhookEventStatus.IGNORED,
            WebhookEventStatus.FORGED,
        ):
            return event.status if event else "gone"
        athlete_id = session.scalar(
            select(Athlete.id).where(Athlete.strava_athlete_id == event.owner_id)
        )
        kind, aspect, object_id = event.object_type, event.aspect_type, event.object_id
        updates = dict(event.updates or {})
        client = event.client_address or "unknown"
    if athlete_id is None:
        return _finish(ctx, event_id, WebhookEventStatus.IGNORED)
    try:
        if kind == "athlete":
            if updates.get("authorized") == "false":
                return _deauthorized(ctx, event_id, athlete_id, client)
            return _finish(ctx, event_id, WebhookEventStatus.IGNORED)
        if aspect == "delete":
            return _deleted(ctx, event_id, athlete_id, object_id, client)
        if ctx.settings.strava_webhook_sync != "deferred":
            _fetch_new_run(ctx, athlete_id, object_id)
    except BudgetExceeded:
        raise  # a deferral, not a failed attempt
    except StravaError as error:
        if not error.retryable:
            return _finish(ctx, event_id, WebhookEventStatus.FAILED, str(error))
        _count_attempt(ctx, event_id, str(error))
        raise
    return _finish(ctx, event_id, WebhookEventStatus.PROCESSED)


def _fetch_new_run(ctx: StravaContext, athlete_id: int, activity_id: int) -> None:
    """Read the run now. In `auto`, once the day's reads are held for due evaluations, leave it
    to the next window refresh (as `deferred` would); a full 15-minute window only waits."""
    try:
        sync_one_activity(ctx, athlete_id, activity_id, priority=Priority.RUN)
    except BudgetExceeded as exceeded:
        if ctx.settings.strava_webhook_sync == "auto" and exceeded.daily:
            log.info(
                "new run left to the next window refresh: %s",
                exceeded,
                extra={"athlete_id": athlete_id, "activity_id": activity_id},
            )
            return
        raise


def _deauthorized(ctx: StravaContext, event_id: int, athlete_id: int, client: str) -> str:
    """Delete the athlete once Strava refuses their token and its refresh."""
    if _strava_still_has(ctx, athlete_id, lambda c: c.protocol.get("/athlete")):
        return _forged(ctx, event_id, "the athlete's Strava grant is still live", client)
    delete_athlete_data(ctx.sessions, athlete_id)  # deletes this event row too
    return WebhookEventStatus.PROCESSED


def _deleted(
    ctx: StravaContext, event_id: int, athlete_id: int, activity_id: int, client: str
) -> str:
    """Delete the activity once Strava answers 404 for it; no request if we do not hold it."""
    with ctx.sessions() as session:
        held = session.scalar(
            select(Activity.strava_id).where(
                Activity.strava_id == activity_id, Activity.athlete_id == athlete_id
            )
        )
    if held is not None:
        probe = _activity_probe(activity_id)
        if _strava_still_has(ctx, athlete_id, probe, gone=(StravaNotFound,)):
            return _forged(ctx, event_id, f"activity {activity_id} still exists on Strava", client)
        delete_activity(ctx.sessions, activity_id)
    return _finish(ctx, event_id, WebhookEventStatus.PROCESSED)


def _activity_probe(activity_id: int) -> Callable[[Client], Any]:
    return lambda c: c.protocol.get("/activities/{id}", id=activity_id)


def _strava_still_has(
    ctx: StravaContext,
    athlete_id: int,
    request: Callable[[Client], Any],
    *,
    gone: tuple[type[StravaError], ...] = (),
) -> bool:
    """Ask Strava, through the shared budget; False when it says the thing is gone.

    A revoked grant (the token and its refresh refused) means everything of the athlete's is
    gone; `gone` adds the answers that mean the one object is.
    """
    answers_gone: tuple[type[StravaError], ...] = (ConnectionRevoked, NotConnected, *gone)
    try:
        AthleteApi(ctx, athlete_id, Priority.BACKGROUND).call(request)
    except answers_gone:
        return False
    return True


def _forged(ctx: StravaContext, event_id: int, contradiction: str, client: str) -> str:
    log.warning(
        "webhook event %d ignored as forged: %s (sent from %s)", event_id, contradiction, client
    )
    return _finish(
        ctx, event_id, WebhookEventStatus.FORGED, f"forged: {contradiction}; sent from {client}"
    )


def _finish(
    ctx: StravaContext, event_id: int, status: WebhookEventStatus, error: str | None = None
) -> str:
    with ctx.sessions.begin() as session:
        event = session.get(WebhookEvent, event_id)
        if event is not None:
            event.status = status
            event.last_error = error
            event.processed_at = utcnow()
            event.attempts += 1
    return status


def _count_attempt(ctx: StravaContext, event_id: int, error: str) -> None:
    with ctx.sessions.begin() as session:
        event = session.get(WebhookEvent, event_id)
        if event is not None:
            event.attempts += 1
            event.last_error = error


def purge_handled_events(
    sessions: sessionmaker[Session], retention_days: int, now: dt.datetime
) -> int:
    """Drop events handled more than `retention_days` ago; the rows removed.

    Without this a flood of forged events (each ends `ignored` or `forged`) would stay for
    ever. Events still waiting are kept whatever their age: they are work not yet done.
    """
    cutoff = now - dt.timedelta(days=retention_days)
    with sessions.begin() as session:
        result = session.execute(
            delete(WebhookEvent).where(
                WebhookEvent.status != WebhookEventStatus.RECEIVED,
                WebhookEvent.received_at < cutoff,
            )
        )
        return int(getattr(result, "rowcount", 0))
