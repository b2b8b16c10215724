"""The one job-row protocol: count the attempt, hold a lease, release it, give up after N.

Evaluations, outbox rows, Strava syncs and webhook events are all jobs kept as rows. Each
records its failures on its own row (so an operator sees them in the database, not only in a
log that rotated away), counts an attempt *before* it runs (so a run that kills its worker is
counted too) and holds a lease while it runs (so a crashed holder's row can be taken again
once the lease is dead, and a live one's cannot). `Lease` names the columns a table keeps
these in; `claim` and `release` are the two conditional UPDATEs every kind is made of.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from strideguard.models import (
    Base,
    ChannelMessage,
    DeliveryRecord,
    Evaluation,
    RunAlert,
    StravaConnection,
    WebhookEvent,
)
from strideguard.status import DeliveryStatus, RunAlertStatus

ERROR_TEXT_LIMIT = 2000


class GaveUp(Exception):
    """A job reached its attempt limit; the row says why. Listed in every actor's `throws`."""


class Lease:
    """Where a job table keeps its attempt count and the lease of the attempt running now.

    `held` is None when the row lock is the lease (webhook events). `held_until` says the
    column stores when the lease ends (the outbox, whose sender compares it to prove the
    row is still its own) rather than when the attempt began.
    """

    def __init__(
        self,
        table: type[Base],
        attempts: InstrumentedAttribute[int],
        held: InstrumentedAttribute[dt.datetime | None] | None = None,
        *,
        held_until: bool = False,
    ) -> None:
        # Instance attributes, not class-level fields: typed as columns, not their values.
        self.table = table
        self.attempts = attempts
        self.held = held
        self.held_until = held_until

    def free(self, now: dt.datetime, duration: dt.timedelta) -> ColumnElement[bool]:
        """No attempt holds the row: never leased, released, or its holder presumed dead."""
        assert self.held is not None, "a lease without a column cannot be claimed by time"
        dead = self.held < (now if self.held_until else now - duration)
        return or_(self.held.is_(None), dead)

    def stamp(self, now: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The value the lease column takes when an attempt claims the row."""
        return now + duration if self.held_until else now


class SendingLease(Lease):
    """The lease of a row a sender delivers (an outbox row, a per-run alert): a claim moves
    its `status` to `sending`, and one taken from a dead holder counts on `crashes`."""

    def __init__(
        self,
        table: type[Base],
        attempts: InstrumentedAttribute[int],
        held: InstrumentedAttribute[dt.datetime | None],
        *,
        status: InstrumentedAttribute[Any],
        sending: StrEnum,
        crashes: InstrumentedAttribute[int],
    ) -> None:
        super().__init__(table, attempts, held, held_until=True)
        self.status = status
        self.sending = sending
        self.crashes = crashes


def claim(
    session: Session,
    lease: Lease,
    *where: ColumnElement[bool],
    now: dt.datetime,
    duration: dt.timedelta,
    also: Mapping[str, Any] | None = None,
) -> bool:
    """Count an attempt and take the lease of the row matching `where` if it is free.

    One conditional UPDATE, atomic on PostgreSQL and SQLite alike: of two claimants racing
    for a row exactly one gets it. `also` sets more columns in the same UPDATE.
    """
    assert lease.held is not None
    values: dict[str, Any] = {
        lease.attempts.key: lease.attempts + 1,
        lease.held.key: lease.stamp(now, duration),
        **(also or {}),
    }
    result = session.execute(
        update(lease.table).where(*where, lease.free(now, duration)).values(**values)
    )
    return rowcount(result) == 1


@dataclass(frozen=True)
class Sending:
    """A sender's claim on a row it moved to "sending" (see `claim_sending`); a job kind's
    own claim extends it with the row's other facts."""

    # Attempts counted so far, this one included.
    attempts: int
    # How many holders died so far, this one's predecessor included.
    crashes: int
    # True when the previous holder's lease ran out: it crashed (or hung) mid-send.
    after_crash: bool
    # The lease's end, which the sender compares to prove the row is still its own.
    lease_until: dt.datetime


def claim_sending(
    session: Session,
    lease: SendingLease,
    row: ColumnElement[bool],
    due: ColumnElement[bool],
    *,
    now: dt.datetime,
    duration: dt.timedelta,
    also: Mapping[str, Any] | None = None,
) -> Sending | None:
    """Claim the `row` a sender delivers (an outbox row, a per-run alert) if it is `due`.

    The row becomes `sending` under the lease. Taking it from a holder whose lease ran out
    counts a crash, and the status read first is part of the UPDATE's condition, so
    `after_crash` is about this very claim. None when the row is not due or is held.
    """
    status, crashes = lease.status, lease.crashes
    previous = session.scalar(select(status).where(row))
    after_crash = previous == lease.sending
    claimed = claim(
        session,
        lease,
        row,
        status == previous,
        due,
        now=now,
        duration=duration,
        also={
            status.key: lease.sending,
            crashes.key: crashes + (1 if after_crash else 0),
            **(also or {}),
        },
    )
    if not claimed:
        return None
    attempts, crashes_now = session.execute(select(lease.attempts, crashes).where(row)).one()
    return Sending(
        attempts=attempts,
        crashes=crashes_now,
        after_crash=after_crash,
        lease_until=lease.stamp(now, duration),
    )


def release(
    session: Session,
    lease: Lease,
    *where: ColumnElement[bool],
    uncount: bool = False,
    **values: Any,
) -> bool:
    """End the attempt on the row matching `where`: free the lease and record its outcome.

    `uncount` gives the attempt back (a deferral is not a failure). False when no row
    matched, e.g. the caller's lease had expired and another attempt took the row.
    """
    changes = dict(values)
    if lease.held is not None:
        changes[lease.held.key] = None
    if uncount:
        changes[lease.attempts.key] = lease.attempts - 1
    return rowcount(session.execute(update(lease.table).where(*where).values(**changes))) == 1


def due_or_abandoned(
    status: InstrumentedAttribute[DeliveryStatus],
    next_attempt_at: InstrumentedAttribute[dt.datetime | None],
    lease_until: InstrumentedAttribute[dt.datetime | None],
    now: dt.datetime,
) -> ColumnElement[bool]:
    """Delivery rows a sender may take at `now`: due and pending, or sending under a lease
    that ran out (the holder died). The outbox and the channel messages share it."""
    return or_(
        and_(
            status == DeliveryStatus.PENDING, or_(next_attempt_at.is_(None), next_attempt_at <= now)
        ),
        and_(status == DeliveryStatus.SENDING, lease_until < now),
    )


def exhausted(attempts_before: int, max_attempts: int) -> bool:
    """The attempts already made use up the allowance: the next one must not run."""
    return attempts_before >= max_attempts


def error_text(exc: BaseException) -> str:
    """`Type: message`, cut to a length a TEXT column and a log line can carry."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:ERROR_TEXT_LIMIT]


def gave_up_text(attempts: int, last_error: str | None) -> str:
    """The reason a job that gave up leaves on its row: how often it tried and what failed."""
    reason = last_error or "the worker died without recording an error (killed or out of memory)"
    return f"gave up after {attempts} attempts; last error: {reason}"[:ERROR_TEXT_LIMIT]


def rowcount(result: object) -> int:
    """Rows an UPDATE matched; a claim succeeded only if it is 1."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# The job kinds.
EVALUATION_LEASE = Lease(Evaluation, Evaluation.attempts, Evaluation.started_at)
DELIVERY_LEASE = SendingLease(
    DeliveryRecord,
    DeliveryRecord.attempts,
    DeliveryRecord.lease_until,
    status=DeliveryRecord.status,
    sending=DeliveryStatus.SENDING,
    crashes=DeliveryRecord.crashes,
)
SYNC_LEASE = Lease(
    StravaConnection, StravaConnection.sync_attempts, StravaConnection.sync_started_at
)
WEBHOOK_EVENT_LEASE = Lease(WebhookEvent, WebhookEvent.attempts)
RUN_ALERT_LEASE = SendingLease(
    RunAlert,
    RunAlert.attempts,
    RunAlert.lease_until,
    status=RunAlert.status,
    sending=RunAlertStatus.SENDING,
    crashes=RunAlert.crashes,
)
CHANNEL_MESSAGE_LEASE = Lease(
    ChannelMessage, ChannelMessage.attempts, ChannelMessage.lease_until, held_until=True
)
