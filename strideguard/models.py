"""The data model: what strideguard keeps, and nothing more.

Strava's API terms shape it. Activities keep only the fields the rules read (no GPS, no
polyline, no names), distances are integer metres so thresholds never flip on float error, and
every table that a job writes has a unique key so that a job run twice writes once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from strideguard.status import (
    ChannelStatus,
    ConnectionStatus,
    DeliveryKind,
    DeliveryStatus,
    EmailStatus,
    EvaluationStatus,
    ImportStatus,
    RunAlertStatus,
    StatusColumn,
    WatchedFileStatus,
    WebhookEventStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Athlete(Base):
    """A runner (from Strava, or added with `strideguard athlete add` to import their own
    files), with the preferences their emails honour."""

    __tablename__ = "athletes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None for a runner who only imports their own files.
    strava_athlete_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    firstname: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(320))
    email_status: Mapped[EmailStatus] = mapped_column(
        StatusColumn(EmailStatus), default=EmailStatus.OK
    )
    email_status_reason: Mapped[str | None] = mapped_column(Text)
    units: Mapped[str] = mapped_column(String(2), default="km")  # km | mi
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # True once the athlete picked a zone; activities then stop overriding it.
    timezone_locked: Mapped[bool] = mapped_column(Boolean, default=False)
    muted_rules: Mapped[list[str]] = mapped_column(JSON, default=list)
    paused_until: Mapped[dt.date | None] = mapped_column(Date)
    # The optional three-line note after a week where nothing fired (off unless asked for).
    weekly_note: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Per-athlete threshold overrides a coach sets, keyed by rule id.
    rule_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    connection: Mapped[StravaConnection | None] = relationship(
        back_populates="athlete", cascade="all, delete-orphan", passive_deletes=True
    )


class StravaConnection(Base):
    """The athlete's Strava grant. Tokens are Fernet ciphertext, never plain text."""

    __tablename__ = "strava_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), unique=True
    )
    access_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    scopes: Mapped[str] = mapped_column(String(200))  # comma-separated, as Strava grants them
    status: Mapped[ConnectionStatus] = mapped_column(
        StatusColumn(ConnectionStatus), default=ConnectionStatus.ACTIVE
    )
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on every refresh so a racing writer can tell its copy is stale.
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    backfilled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_synced_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sync_requested_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # When the running sync attempt started (its lease); NULL when none runs.
    sync_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    sync_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    athlete: Mapped[Athlete] = relationship(back_populates="connection")


class Activity(Base):
    """One activity from Strava or from the runner's own file, reduced to what the rules read.

    A file row's `strava_id` is negative: a stable id made from the athlete and the file's
    figures (`strideguard.activity_sources.file_activity_id`), so it never meets a Strava id
    and re-importing the same file writes the same row.
    """

    __tablename__ = "activities"

    strava_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The name the engine reads (rules.ActivityLike), which knows no Strava.
    activity_id: Mapped[int] = synonym("strava_id")
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    sport_type: Mapped[str] = mapped_column(String(40))
    # UTC instant, for retention and `after`/`before` paging.
    start_date: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # Local wall-clock time exactly as Strava writes it; days and weeks are bucketed by it.
    start_date_local: Mapped[dt.datetime] = mapped_column(DateTime(timezone=False))
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name, e.g. Europe/Oslo
    distance_m: Mapped[int] = mapped_column(Integer, default=0)
    moving_time_s: Mapped[int] = mapped_column(Integer, default=0)
    # Decimetres keep Strava's 0.1 m resolution without floats.
    elevation_gain_dm: Mapped[int] = mapped_column(Integer, default=0)
    trainer: Mapped[bool] = mapped_column(Boolean, default=False)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    gear_id: Mapped[str | None] = mapped_column(String(32))
    # "strava" (kept RETENTION_DAYS) or "file" (the runner's own, kept FILE_RETENTION_DAYS).
    source: Mapped[str] = mapped_column(String(8), default="strava", server_default="strava")
    # A file row's `Detail` (how its figures were measured), which decides a cross-source match.
    detail: Mapped[int | None] = mapped_column(Integer)
    file_name: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the file a file-sourced row was read from: a re-import skips that file unread.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # Set on the copy of a run counted out because the other source's copy is better; cleared
    # (the copy counts again) when that row goes, e.g. a Strava row past retention.
    matched_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("activities.strava_id", ondelete="SET NULL")
    )
    synced_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (
        Index("ix_activities_athlete_local", "athlete_id", "start_date_local"),
        Index("ix_activities_athlete_source", "athlete_id", "source"),
    )


class Gear(Base):
    """Shoe distance from Strava, for the shoe-mileage rule."""

    __tablename__ = "gear"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    strava_gear_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(120))
    distance_m: Mapped[int] = mapped_column(Integer, default=0)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    synced_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (UniqueConstraint("athlete_id", "strava_gear_id"),)


class BackPainCheckin(Base):
    """The runner's own 0-10 answer to "How is your back this week?", one per local week.

    Their own data: deleted with the athlete, and read only to advise that same runner.
    """

    __tablename__ = "back_pain_checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    week_start: Mapped[dt.date] = mapped_column(Date)  # local Monday of the week answered in
    score: Mapped[int] = mapped_column(Integer)  # 0 = no pain ... 10 = worst imaginable
    note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    __table_args__ = (UniqueConstraint("athlete_id", "week_start"),)


class OAuthState(Base):
    """A single-use OAuth `state` nonce; the signed token carries it, this row spends it."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookEvent(Base):
    """A Strava push event as received; unique so Strava's retries record once."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(BigInteger)
    object_type: Mapped[str] = mapped_column(String(16))  # activity | athlete
    object_id: Mapped[int] = mapped_column(BigInteger)
    aspect_type: Mapped[str] = mapped_column(String(16))  # create | update | delete
    owner_id: Mapped[int] = mapped_column(BigInteger, index=True)
    event_time: Mapped[int] = mapped_column(BigInteger)
    updates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[WebhookEventStatus] = mapped_column(
        StatusColumn(WebhookEventStatus), default=WebhookEventStatus.RECEIVED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Who POSTed it: named in the warning when Strava contradicts the event.
    client_address: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "aspect_type", "event_time"),
        Index("ix_webhook_events_status", "status"),
    )


class Evaluation(Base):
    """One athlete-week to evaluate; the scheduler creates it, the worker completes it."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    week_start: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[EvaluationStatus] = mapped_column(
        StatusColumn(EvaluationStatus), default=EvaluationStatus.PENDING
    )
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    rules_version: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Rules that could not be evaluated this week, [{"rule": id, "error": reason}]; the week
    # was judged (and its digest sent) on the others. NULL when every rule ran.
    rule_errors: Mapped[list[dict[str, str]] | None] = mapped_column(JSON(none_as_null=True))
    # The limits after the week (rules.Limit dicts): the next-run ceiling and next week's
    # range, which the digest shows. NULL for evaluations made before limits existed.
    limits: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (
        UniqueConstraint("athlete_id", "week_start"),
        Index("ix_evaluations_status_due", "status", "due_at"),
    )


class Alert(Base):
    """A rule that fired for an athlete-week; at most one per (athlete, week, rule)."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    week_start: Mapped[dt.date] = mapped_column(Date)
    rule_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    # The finding as the engine reported it: value, threshold, band, figures, activity.
    finding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set when the alert came after the week's digest was already written.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("athlete_id", "week_start", "rule_id"),)


class DeliveryRecord(Base):
    """A digest to deliver on one channel; written with its alerts, claimed under a lease."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    week_start: Mapped[dt.date] = mapped_column(Date)
    # The registry kind of the channel that delivers it (worker/registry.py).
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
    # Digest, welcome or weekly note (strideguard/status.py, DeliveryKind).
    kind: Mapped[DeliveryKind] = mapped_column(
        StatusColumn(DeliveryKind), default=DeliveryKind.DIGEST, server_default="digest"
    )
    # Stable across retries so a duplicate delivery is recognisable to the mail client.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[DeliveryStatus] = mapped_column(
        StatusColumn(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Attempts whose sender died holding the lease; only these can give the digest up, since
    # transient SMTP failures are retried for days and must not use up the crash allowance.
    crashes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("athlete_id", "week_start", "channel", "kind"),
        Index("ix_deliveries_status", "status"),
    )


class AthleteChannel(Base):
    """A push or chat channel a runner added (an Apprise URL), beside their email.

    The URL holds the service's secret (a bot token, a webhook key), so it is Fernet
    ciphertext like the Strava tokens; `label` is what pages, the CLI and logs show.
    """

    __tablename__ = "athlete_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    # The registry kind that delivers it (worker/registry.py).
    kind: Mapped[str] = mapped_column(String(16), default="apprise")
    url_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # The service and host only (e.g. "Telegram (tgram://…)"): never a secret.
    label: Mapped[str] = mapped_column(String(200))
    status: Mapped[ChannelStatus] = mapped_column(
        StatusColumn(ChannelStatus), default=ChannelStatus.ACTIVE
    )
    # Why the channel was switched off, shown to the runner and on the admin page.
    off_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChannelMessage(Base):
    """One short message to one of a runner's channels; a job row like the outbox's.

    A row per channel, so a slow or broken service holds up only its own row, never the
    email or another runner's messages. `key` makes a job run twice write once.
    """

    __tablename__ = "channel_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("athlete_channels.id", ondelete="CASCADE"), index=True
    )
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # digest | run
    key: Mapped[str] = mapped_column(String(100))  # e.g. "digest:2026-11-30"
    # What the text is rendered from when it is sent (worker/short_messages.py).
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[DeliveryStatus] = mapped_column(
        StatusColumn(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("channel_id", "key"),
        Index("ix_channel_messages_status", "status"),
    )


class AdminLoginFailure(Base):
    """A failed admin login, kept briefly so brute force is throttled across web processes."""

    __tablename__ = "admin_login_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remote: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_admin_login_failures_remote_at", "remote", "at"),)


class AdminSession(Base):
    """A signed-in admin, so a session can be ended server-side (logout, new password).

    Only a SHA-256 of the session id is kept: a copy of the database cannot sign anyone in.
    """

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the ADMIN_PASSWORD_HASH in force at login; a new hash ends older sessions.
    password_tag: Mapped[str] = mapped_column(String(64))
    remote: Mapped[str] = mapped_column(String(64))  # the address that signed in
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class StravaSubscription(Base):
    """Our Strava push subscription; webhook POSTs naming any other id are refused."""

    __tablename__ = "strava_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    callback_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RunnerSigninLink(Base):
    """A one-time sign-in link emailed to a runner, bound to the browser that asked for it.

    Only SHA-256 hashes are kept: of the link's token and of the nonce cookie given to the
    browser, so neither a database copy nor the email alone can open a session.
    """

    __tablename__ = "runner_signin_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_hash: Mapped[str] = mapped_column(String(64))
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RunnerSession(Base):
    """A runner signed in on one browser; the cookie holds the id, this row its SHA-256."""

    __tablename__ = "runner_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RunnerSigninRequest(Base):
    """One "email me a link" request, kept briefly to throttle per address and per client.

    `key` is "client:<address>" or "email:<sha256 of the lower-cased address>", so addresses
    nobody registered are never stored in the clear.
    """

    __tablename__ = "runner_signin_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_runner_signin_requests_key_at", "key", "at"),)


class RiskyRun(Base):
    """A run that fired a per-run rule, waiting for (or named by) a per-run alert.

    One row per channel kind, so each channel's alert names the runs it carried; the unique
    key makes a webhook delivered twice, or a judgement retried, write the run once.
    """

    __tablename__ = "risky_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    activity_id: Mapped[int] = mapped_column(BigInteger)
    rule_id: Mapped[str] = mapped_column(String(64))
    week_start: Mapped[dt.date] = mapped_column(Date)
    # The engine's finding for the run (figures, band, date), as alerts.finding holds it.
    finding: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The alert that carries the run; NULL until an alert's send attempt takes it.
    run_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("run_alerts.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("athlete_id", "channel", "activity_id", "rule_id"),)


class RunAlert(Base):
    """One per-run alert message on one channel, claimed under a lease like a digest.

    `open_key` ("<athlete>:<channel>") is set while the alert still gathers runs and cleared
    when a send attempt takes them: its unique key lets one open alert exist per athlete and
    channel, so runs synced together share one message.
    """

    __tablename__ = "run_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[RunAlertStatus] = mapped_column(
        StatusColumn(RunAlertStatus), default=RunAlertStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    crashes: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_run_alerts_status", "status"),)


class FileImport(Base):
    """One import of the runner's files queued from the runner page or the watched folder.

    The runner page shows the newest one: what was imported, skipped as a duplicate, or
    refused (file name and reason). Only names and reasons are kept, never a file's content.
    """

    __tablename__ = "file_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True
    )
    origin: Mapped[str] = mapped_column(String(8))  # upload | watch
    status: Mapped[ImportStatus] = mapped_column(
        StatusColumn(ImportStatus), default=ImportStatus.QUEUED
    )
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # ImportOutcome.to_dict(), lists capped (integrations/files/import_runs.py)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The job this row stands for, so the reconciler can send it again if its message is
    # lost: the files, and the upload folder deleted after (None for the watched folder).
    paths: Mapped[list[str] | None] = mapped_column(JSON)
    remove_after: Mapped[str | None] = mapped_column(String(1024))
    # The job-row lease (strideguard/leases.py): attempts made, and when the running one began.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class WatchedFile(Base):
    """A file seen in IMPORT_WATCH_DIR/<athlete id>/, so each version is imported once.

    Keyed by its path under the athlete's folder; a changed size or modification time is a
    new version, read again once it has stopped changing.
    """

    __tablename__ = "watched_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[WatchedFileStatus] = mapped_column(
        StatusColumn(WatchedFileStatus), default=WatchedFileStatus.SEEN
    )
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("athlete_id", "name"),)
