"""Strava push events: strict validation, idempotent recording, and what each event means.

The POST handler must answer within Strava's 2 s (we aim for 50 ms), so it only validates,
records and enqueues; `handle_event` does the work in a job. Anything that is not exactly a
Strava event is refused with a message naming the field, and nothing is recorded.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integrations.strava.budget import Priority
from integrations.strava.context import StravaContext
from integrations.strava.disconnect import delete_athlete_data
from integrations.strava.errors import BudgetExceeded, StravaError
from integrations.strava.sync import delete_activity, sync_one_activity
from strideguard.models import Athlete, StravaSubscription, WebhookEvent, utcnow

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


def known_subscription(ctx: StravaContext, subscription_id: int) -> bool:
    with ctx.sessions() as session:
        return (
            session.scalar(
                select(StravaSubscription.id).where(
                    StravaSubscription.subscription_id == subscription_id
                )
            )
            is not None
        )


def record_event(ctx: StravaContext, event: PushEvent) -> int | None:
    """Store the event; its id, or None when Strava re-sent one we already have."""
    try:
        with ctx.sessions.begin() as session:
            row = WebhookEvent(
                subscription_id=event.subscription_id,
                object_type=event.object_type,
                object_id=event.object_id,
                aspect_type=event.aspect_type,
                owner_id=event.owner_id,
                event_time=event.event_time,
                updates=event.updates,
                received_at=ctx.clock(),
            )
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:
        return None


def handle_event(ctx: StravaContext, event_id: int) -> str:
    """Apply one recorded event; returns the status it ends in. Safe to run twice.

    Activity create/update costs a request only with STRAVA_WEBHOOK_SYNC=immediate; by default
    the next window refresh (which every evaluation does) picks the change up for free.
    """
    with ctx.sessions() as session:
        event = session.get(WebhookEvent, event_id)
        if event is None or event.status in ("processed", "ignored"):
            return event.status if event else "gone"
        athlete_id = session.scalar(
            select(Athlete.id).where(Athlete.strava_athlete_id == event.owner_id)
        )
        kind, aspect, object_id = event.object_type, event.aspect_type, event.object_id
        updates = dict(event.updates or {})
    if athlete_id is None:
        return _finish(ctx, event_id, "ignored")
    if kind == "athlete":
        if updates.get("authorized") == "false":
            delete_athlete_data(ctx.sessions, athlete_id)  # deletes this event row too
            return "processed"
        return _finish(ctx, event_id, "ignored")
    if aspect == "delete":
        delete_activity(ctx.sessions, object_id)
        return _finish(ctx, event_id, "processed")
    if ctx.settings.strava_webhook_sync == "immediate":
        try:
            sync_one_activity(ctx, athlete_id, object_id, priority=Priority.BACKGROUND)
        except BudgetExceeded:
            raise  # a deferral, not a failed attempt
        except StravaError as error:
            if not error.retryable:
                return _finish(ctx, event_id, "failed", str(error))
            _count_attempt(ctx, event_id, str(error))
            raise
    return _finish(ctx, event_id, "processed")


def _finish(ctx: StravaContext, event_id: int, status: str, error: str | None = None) -> str:
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
