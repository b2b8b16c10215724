"""Writing a welcome or a weekly note to the outbox: one row per athlete, week and kind.

The digest's row is written by the evaluation together with its alerts (worker/evaluation.py);
these two carry no alerts, so a row is all they need. The unique key (athlete, week, channel,
kind) makes a job that runs twice write once, and `send_digest` delivers every kind.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from strideguard.models import DeliveryRecord
from strideguard.status import DeliveryKind, DeliveryStatus
from strideguard.upsert import insert_ignoring_duplicates


def kind_message_id(
    kind: DeliveryKind, athlete_id: int, week_start: dt.date, public_base_url: str
) -> str:
    """Stable across retries, like the digest's, so a duplicate threads as the same message."""
    host = urlsplit(public_base_url).hostname or "localhost"
    return f"<{kind.value}-{athlete_id}-{week_start.isoformat()}@{host}>"


def add_delivery(
    session: Session,
    kind: DeliveryKind,
    athlete_id: int,
    week_start: dt.date,
    public_base_url: str,
    now: dt.datetime,
) -> int | None:
    """The new row's id, or None when this athlete, week and kind has one already."""
    return session.scalar(
        insert_ignoring_duplicates(session, DeliveryRecord)
        .values(
            athlete_id=athlete_id,
            week_start=week_start,
            kind=kind,
            message_id=kind_message_id(kind, athlete_id, week_start, public_base_url),
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .returning(DeliveryRecord.id)
    )
