"""The outbox row's life cycle: claim under a lease, then sent, retried, failed or cancelled.

Each step is one conditional UPDATE whose row count says whether it happened, which is atomic
on PostgreSQL and SQLite alike: two senders racing for a row cannot both claim it, and a sender
whose lease expired (it was presumed dead and the row was re-claimed) cannot mark it sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from strideguard import leases
from strideguard.leases import DELIVERY_LEASE
from strideguard.models import Alert, Athlete, DeliveryRecord
from strideguard.status import DeliveryStatus, EmailStatus

# A digest about a week older than this is stale advice: stop retrying a transient failure.
DIGEST_MAX_AGE = dt.timedelta(days=3)


@dataclass(frozen=True)
class OutboxClaim(leases.Sending):
    outbox_id: int
    last_error: str | None
    created_at: dt.datetime


def claimable(now: dt.datetime) -> ColumnElement[bool]:
    """Rows a sender may take at `now`: due and pending, or sending under a dead lease."""
    return leases.due_or_abandoned(
        DeliveryRecord.status, DeliveryRecord.next_attempt_at, DeliveryRecord.lease_until, now
    )


def claim(
    session: Session, outbox_id: int, now: dt.datetime, lease: dt.timedelta
) -> OutboxClaim | None:
    """Take the row for one send attempt; None when it is not due or someone else holds it."""
    taken = leases.claim_sending(
        session,
        DELIVERY_LEASE,
        DeliveryRecord.id == outbox_id,
        claimable(now),
        now=now,
        duration=lease,
    )
    if taken is None:
        return None
    row = session.execute(
        select(DeliveryRecord.last_error, DeliveryRecord.created_at).where(
            DeliveryRecord.id == outbox_id
        )
    ).one()
    return OutboxClaim(
        outbox_id=outbox_id, last_error=row.last_error, created_at=row.created_at, **asdict(taken)
    )


def _ours(claim_: OutboxClaim) -> ColumnElement[bool]:
    return and_(
        DeliveryRecord.id == claim_.outbox_id,
        DeliveryRecord.status == DeliveryStatus.SENDING,
        DeliveryRecord.lease_until == claim_.lease_until,
    )


def mark_sent(
    session: Session, claim_: OutboxClaim, now: dt.datetime, carried_late: Sequence[int]
) -> bool:
    """Record delivery and attach the late alerts the email carried; False if the lease was lost."""
    sent = leases.release(
        session,
        DELIVERY_LEASE,
        _ours(claim_),
        status=DeliveryStatus.SENT,
        sent_at=now,
        last_error=None,
    )
    if not sent:
        return False
    if carried_late:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(carried_late), Alert.outbox_id.is_(None))
            .values(outbox_id=claim_.outbox_id)
        )
    return True


def back_to_pending(
    session: Session,
    claim_: OutboxClaim,
    last_error: str,
    next_attempt_at: dt.datetime,
    *,
    uncount: bool = False,
) -> None:
    """Release the row for a later attempt, with the reason it did not go out this time."""
    leases.release(
        session,
        DELIVERY_LEASE,
        _ours(claim_),
        uncount=uncount,
        status=DeliveryStatus.PENDING,
        last_error=last_error,
        next_attempt_at=next_attempt_at,
    )


def finish(session: Session, claim_: OutboxClaim, status: DeliveryStatus, last_error: str) -> None:
    """Close the row for good (failed or cancelled), with the reason."""
    leases.release(session, DELIVERY_LEASE, _ours(claim_), status=status, last_error=last_error)


def mark_bounced(session: Session, athlete_id: int, reason: str) -> None:
    """A permanent bounce stops all mail to the athlete until they fix the address."""
    session.execute(
        update(Athlete)
        .where(Athlete.id == athlete_id)
        .values(email_status=EmailStatus.BOUNCED, email_status_reason=reason)
    )
