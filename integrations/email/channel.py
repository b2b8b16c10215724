"""Email as the pipeline's `Channel` (worker/ports.py), registered as "email"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.integrations.email.outbox_lease import claimable
from strideguard.integrations.email.smtp import send_message
from strideguard.models import Athlete, DeliveryRecord
from strideguard.settings import Settings
from strideguard.status import EmailStatus
from strideguard.worker.ports import Delivery

SMTP_TIMEOUT_S = 30


def mail_blocked_reason(athlete: Athlete, week_start: dt.date) -> str | None:
    """Why no alert of this week may reach the athlete, or None.

    A pause covers a week when any day of it falls on or before `paused_until`: the runner
    asked not to hear about that period.
    """
    if athlete.email_status != EmailStatus.OK:
        return f"email status is {athlete.email_status}"
    if not athlete.email:
        return "no email address"
    if athlete.paused_until is not None and week_start <= athlete.paused_until:
        return f"paused until {athlete.paused_until.isoformat()}"
    return None


class EmailChannel:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def due_deliveries(self, session: Session, now: dt.datetime, limit: int) -> Sequence[int]:
        return session.scalars(
            select(DeliveryRecord.id).where(claimable(now)).order_by(DeliveryRecord.id).limit(limit)
        ).all()

    def blocked_reason(self, athlete: Athlete, week_start: dt.date) -> str | None:
        return mail_blocked_reason(athlete, week_start)

    def deliver(self, delivery: Delivery) -> None:
        """Over SMTP; the `SendError` kinds (smtp.py) say whether a retry can help."""
        assert self.settings.smtp_url  # the outbox waits for SMTP_URL before rendering
        send_message(
            delivery.message,
            self.settings.smtp_url,
            timeout=SMTP_TIMEOUT_S,
            recipient=delivery.recipient,
        )
