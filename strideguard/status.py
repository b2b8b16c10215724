"""The allowed values of every status column, one `StrEnum` each.

They used to be bare strings with the choices written only in comments, so a typo passed
mypy and reached the database. A `StrEnum` member *is* its string: rows written before
these existed, SQL comparisons and JSON output are unchanged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class EmailStatus(StrEnum):
    """`athletes.email_status`: anything but OK stops all mail to the athlete."""

    OK = "ok"
    BOUNCED = "bounced"
    UNSUBSCRIBED = "unsubscribed"


class ConnectionStatus(StrEnum):
    """`strava_connections.status`: REVOKED stops every job for the athlete."""

    ACTIVE = "active"
    REVOKED = "revoked"


class WebhookEventStatus(StrEnum):
    """`webhook_events.status`; FORGED means Strava contradicted the event."""

    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    IGNORED = "ignored"
    FORGED = "forged"


class EvaluationStatus(StrEnum):
    """`evaluations.status`."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class DeliveryStatus(StrEnum):
    """`deliveries.status` (the outbox): SENDING is held under a lease by one sender."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RunAlertStatus(StrEnum):
    """`run_alerts.status`: like a delivery's, plus SUPERSEDED (the week's digest covers it)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPERSEDED = "superseded"


class ChannelStatus(StrEnum):
    """`athlete_channels.status`: OFF (with `off_reason`) after the service refused for good."""

    ACTIVE = "active"
    OFF = "off"


class DeliveryKind(StrEnum):
    """`deliveries.kind`: what the message is. A DIGEST carries a week's alerts; a WELCOME
    goes once per athlete after the first backfill; a NOTE is the optional weekly note sent
    when nothing fired."""

    DIGEST = "digest"
    WELCOME = "welcome"
    NOTE = "note"


E = TypeVar("E", bound=StrEnum)


class StatusColumn(TypeDecorator[E], Generic[E]):
    """A VARCHAR(16) that reads back as the column's enum, so loaded rows are typed too.

    The database keeps plain strings (no CHECK, no native enum): no migration, and an
    older row with a value the enum lacks fails loudly on read instead of being guessed.
    """

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


class ImportStatus(StrEnum):
    """`file_imports.status`: an upload or watched-folder import, queued until its job ends."""

    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class WatchedFileStatus(StrEnum):
    """`watched_files.status`: SEEN waits for the file to stop changing; QUEUED was sent to an
    import once (imported, a duplicate, or refused with its reason on the runner page) and is
    not read again unless it changes."""

    SEEN = "seen"
    QUEUED = "queued"
