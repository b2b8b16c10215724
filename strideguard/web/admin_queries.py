"""What the admin view shows, read from the database (the source of truth)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from strideguard.models import (
    Alert,
    Athlete,
    AthleteChannel,
    ChannelMessage,
    DeliveryRecord,
    Evaluation,
    StravaConnection,
    WebhookEvent,
)
from strideguard.status import DeliveryStatus, WebhookEventStatus
from strideguard.times import week_start_of

# The outbox states the admin page counts; cancelled digests are not news to an operator.
SHOWN_DELIVERY_STATUSES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
)

_Erred = TypeVar("_Erred", DeliveryRecord, Evaluation, StravaConnection)


@dataclass(frozen=True)
class AthleteRow:
    id: int
    strava_athlete_id: int | None
    firstname: str | None
    email_status: str
    connection: str
    last_synced_at: dt.datetime | None
    last_week: dt.date | None
    last_week_status: str | None
    last_error: str | None
    email: str | None = None
    # The push/chat channels: label, status and why it is off (no URL: they hold secrets).
    channels: tuple[ChannelRow, ...] = ()


@dataclass(frozen=True)
class ChannelRow:
    id: int
    kind: str
    label: str
    status: str
    off_reason: str | None
    created_at: dt.datetime


def channel_rows(session: Session, athlete_ids: Sequence[int]) -> dict[int, list[ChannelRow]]:
    """Each athlete's channels, oldest first, for the list, the detail page and the CLI."""
    found: dict[int, list[ChannelRow]] = {}
    for row in session.scalars(
        select(AthleteChannel)
        .where(AthleteChannel.athlete_id.in_(athlete_ids))
        .order_by(AthleteChannel.id)
    ):
        found.setdefault(row.athlete_id, []).append(
            ChannelRow(row.id, row.kind, row.label, row.status, row.off_reason, row.created_at)
        )
    return found


@dataclass(frozen=True)
class FailedJob:
    kind: str
    subject: str
    attempts: int
    error: str


@dataclass(frozen=True)
class RuleFailure:
    """A rule that could not be evaluated: how many recent weeks it missed, and the last why."""

    rule: str
    weeks: int
    last_error: str
    last_athlete_id: int
    last_week: dt.date


@dataclass(frozen=True)
class AlertCounts:
    weeks: list[dt.date]
    # rule id -> one count per week in `weeks`, plus the total
    by_rule: dict[str, list[int]]

    def total(self, rule: str) -> int:
        return sum(self.by_rule[rule])


def _matching(search: str | None) -> Any:
    """Athletes whose id, Strava id, name or email matches `search` (all when empty)."""
    text = (search or "").strip()
    if not text:
        return true()
    like = f"%{text.lower()}%"
    found = or_(func.lower(Athlete.firstname).like(like), func.lower(Athlete.email).like(like))
    if text.isdigit():
        found = or_(found, Athlete.id == int(text), Athlete.strava_athlete_id == int(text))
    return found


def count_athletes(session: Session, search: str | None = None) -> int:
    return session.scalar(select(func.count()).select_from(Athlete).where(_matching(search))) or 0


def athletes(
    session: Session, search: str | None = None, limit: int | None = None, offset: int = 0
) -> list[AthleteRow]:
    """One page of athletes (all without `limit`), by id, matching `search`."""
    latest = (
        select(Evaluation.athlete_id, func.max(Evaluation.week_start).label("week"))
        .group_by(Evaluation.athlete_id)
        .subquery()
    )
    rows = session.execute(
        select(Athlete, StravaConnection, Evaluation)
        .outerjoin(StravaConnection, StravaConnection.athlete_id == Athlete.id)
        .outerjoin(latest, latest.c.athlete_id == Athlete.id)
        .outerjoin(
            Evaluation,
            (Evaluation.athlete_id == Athlete.id) & (Evaluation.week_start == latest.c.week),
        )
        .where(_matching(search))
        .order_by(Athlete.id)
        .limit(limit)
        .offset(offset)
    ).all()
    channels = channel_rows(session, [athlete.id for athlete, _, _ in rows])
    return [
        AthleteRow(
            id=athlete.id,
            strava_athlete_id=athlete.strava_athlete_id,
            firstname=athlete.firstname,
            email_status=athlete.email_status,
            connection=connection.status if connection else "none",
            last_synced_at=connection.last_synced_at if connection else None,
            last_week=evaluation.week_start if evaluation else None,
            last_week_status=evaluation.status if evaluation else None,
            last_error=(connection.last_error if connection else None)
            or (evaluation.last_error if evaluation else None),
            email=athlete.email,
            channels=tuple(channels.get(athlete.id, [])),
        )
        for athlete, connection, evaluation in rows
    ]


def outbox_counts(session: Session) -> dict[str, int]:
    counts = dict(
        session.execute(
            select(DeliveryRecord.status, func.count()).group_by(DeliveryRecord.status)
        ).all()
    )
    return {status: counts.get(status, 0) for status in SHOWN_DELIVERY_STATUSES}


def failed_jobs(session: Session, limit: int = 50) -> list[FailedJob]:
    """Every job whose DB row carries an error, by kind: emails, evaluations, syncs, webhooks
    and push/chat channel messages (a held one, e.g. paused, is not a failure)."""

    def erred(model: type[_Erred]) -> Sequence[_Erred]:
        return session.scalars(
            select(model).where(model.last_error.is_not(None)).limit(limit)
        ).all()

    failures = [
        *(
            FailedJob(
                "email",
                f"athlete {row.athlete_id}, week {row.week_start} ({row.status})",
                row.attempts,
                row.last_error or "",
            )
            for row in erred(DeliveryRecord)
        ),
        *(
            FailedJob(
                "evaluation",
                f"athlete {row.athlete_id}, week {row.week_start} ({row.status})",
                row.attempts,
                row.last_error or "",
            )
            for row in erred(Evaluation)
        ),
        *(
            FailedJob(
                "sync",
                f"athlete {row.athlete_id} ({row.status})",
                row.sync_attempts,
                row.last_error or "",
            )
            for row in erred(StravaConnection)
        ),
        *(
            FailedJob(
                "webhook",
                f"{row.object_type} {row.object_id} {row.aspect_type}",
                row.attempts,
                row.last_error or "",
            )
            for row in session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.status == WebhookEventStatus.FAILED)
                .limit(limit)
            )
        ),
        *(
            FailedJob(
                "channel",
                f"athlete {row.athlete_id}, {row.kind} message, channel {row.channel_id} "
                f"({row.status})",
                row.attempts,
                row.last_error or "",
            )
            for row in session.scalars(
                select(ChannelMessage)
                .where(
                    ChannelMessage.last_error.is_not(None),
                    ChannelMessage.status != DeliveryStatus.CANCELLED,
                )
                .limit(limit)
            )
        ),
    ]
    return failures[:limit]


def rule_failures(session: Session, recent: int = 200) -> list[RuleFailure]:
    """Rules that failed in the `recent` latest evaluations that recorded a failing rule."""
    rows = session.execute(
        select(Evaluation.athlete_id, Evaluation.week_start, Evaluation.rule_errors)
        .where(Evaluation.rule_errors.is_not(None))
        .order_by(Evaluation.finished_at.desc(), Evaluation.id.desc())
        .limit(recent)
    ).all()
    found: dict[str, RuleFailure] = {}
    for athlete_id, week_start, errors in rows:  # newest first: the first seen is the last
        for entry in errors or ():
            rule = str(entry.get("rule"))
            seen = found.get(rule)
            found[rule] = (
                replace(seen, weeks=seen.weeks + 1)
                if seen
                else RuleFailure(rule, 1, str(entry.get("error")), athlete_id, week_start)
            )
    return sorted(found.values(), key=lambda failure: failure.rule)


def alert_counts(session: Session, today: dt.date, weeks: int = 12) -> AlertCounts:
    """Alerts per rule for each of the last `weeks` ISO weeks, oldest first."""
    this_monday = week_start_of(today)
    week_starts = [this_monday - dt.timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    counter: Counter[tuple[str, dt.date]] = Counter()
    for rule, week, count in session.execute(
        select(Alert.rule_id, Alert.week_start, func.count())
        .where(Alert.week_start >= week_starts[0])
        .group_by(Alert.rule_id, Alert.week_start)
    ):
        counter[(rule, week)] = count
    rules = sorted({rule for rule, _ in counter})
    return AlertCounts(
        weeks=week_starts,
        by_rule={rule: [counter[(rule, week)] for week in week_starts] for rule in rules},
    )
