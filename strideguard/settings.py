"""The one settings object, read from the environment and an optional `.env`.

Operators and scripts rely on the exact variable names, so they are spelled out as aliases
rather than derived from field names. Anything invalid stops start-up with one line that names
the variable (see `SettingsError`), because a traceback at boot hides which knob is wrong.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Callable
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from strideguard.private_files import create_private_file

log = logging.getLogger(__name__)

VAR_DIR = Path("var")
DEFAULT_DATABASE_URL = f"sqlite:///{VAR_DIR / 'strideguard.db'}"


def _items(value: str) -> list[str]:
    """A comma-separated setting as its non-empty items."""
    return [item.strip() for item in value.split(",") if item.strip()]


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the variable and what to do."""


class Settings(BaseSettings):
    """Validated configuration. Field aliases are the environment variable names."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=True,
    )

    database_url: str = Field(DEFAULT_DATABASE_URL, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    smtp_url: str | None = Field(None, alias="SMTP_URL")
    mail_from: str = Field("strideguard <alerts@localhost>", alias="MAIL_FROM")
    # The mailto: half of List-Unsubscribe; requests arriving there are applied with
    # `strideguard admin unsubscribe EMAIL`. Default: the MAIL_FROM address.
    unsubscribe_mailbox: str | None = Field(None, alias="UNSUBSCRIBE_MAILBOX")
    strava_client_id: int | None = Field(None, alias="STRAVA_CLIENT_ID")
    strava_client_secret: str | None = Field(None, alias="STRAVA_CLIENT_SECRET", repr=False)
    strava_base_url: str = Field("https://www.strava.com", alias="STRAVA_BASE_URL")
    # Where the API (not OAuth) lives; unset: STRAVA_BASE_URL/api/v3. Strava moves it to
    # https://www.api-v3.strava.com, the only base it serves from 1 June 2027.
    strava_api_url: str | None = Field(None, alias="STRAVA_API_URL")
    strava_webhook_verify_token: str | None = Field(
        None, alias="STRAVA_WEBHOOK_VERIFY_TOKEN", repr=False
    )
    # Most of each Strava rate window a priority may spend (integrations/strava/budget.py);
    # on top of these caps, reads due for evaluations and per-run fetches are held back.
    strava_budget_backfill_share: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, alias="STRAVA_BUDGET_BACKFILL_SHARE"
    )
    strava_budget_evaluation_share: Annotated[float, Field(gt=0, le=1)] = Field(
        1.0, alias="STRAVA_BUDGET_EVALUATION_SHARE"
    )
    strava_budget_background_share: Annotated[float, Field(gt=0, le=1)] = Field(
        0.60, alias="STRAVA_BUDGET_BACKGROUND_SHARE"
    )
    # auto: fetch each new activity at once while the day's budget has room beyond what
    # evaluations are due to need, else as deferred; deferred: activity create/update webhooks
    # wait for the next window refresh (no request); immediate: each costs a GET at once.
    strava_webhook_sync: Literal["auto", "deferred", "immediate"] = Field(
        "auto", alias="STRAVA_WEBHOOK_SYNC"
    )
    public_base_url: str = Field("http://127.0.0.1:8000", alias="PUBLIC_BASE_URL")
    # Proxies whose X-Forwarded-For/-Proto are believed (addresses or networks, comma-separated).
    trusted_proxies: str = Field("", alias="TRUSTED_PROXIES")
    secret_key: str | None = Field(None, alias="SECRET_KEY", repr=False)
    token_encryption_key: str | None = Field(None, alias="TOKEN_ENCRYPTION_KEY", repr=False)
    rules_path: Path | None = Field(None, alias="RULES_PATH")
    retention_days: Annotated[int, Field(ge=1, le=365)] = Field(7, alias="RETENTION_DAYS")
    # Activities read from the runner's own files: theirs, so kept for a year of baselines.
    file_retention_days: Annotated[int, Field(ge=1, le=3660)] = Field(
        400, alias="FILE_RETENTION_DAYS"
    )
    # The runner page's upload form: one request (several files or one Strava export ZIP) may
    # carry at most this many bytes; more is refused with 413 before it is all read.
    upload_max_bytes: Annotated[int, Field(ge=1024, le=16 * 2**30)] = Field(
        512 * 2**20, alias="UPLOAD_MAX_BYTES"
    )
    # Where uploads wait, each in its own owner-only folder, until the import job has read and
    # deleted them; web and worker must both see it (one volume in compose.yaml).
    upload_dir: Path = Field(Path("var/uploads"), alias="UPLOAD_DIR")
    # Optional: files synced into IMPORT_WATCH_DIR/<athlete id>/ are imported by the scheduler
    # once they have not changed for IMPORT_WATCH_SETTLE_SECONDS (a sync still writing them).
    import_watch_dir: Path | None = Field(None, alias="IMPORT_WATCH_DIR")
    import_watch_settle_seconds: Annotated[float, Field(ge=0, le=86400)] = Field(
        60, alias="IMPORT_WATCH_SETTLE_SECONDS"
    )
    # Handled Strava webhook events are kept this long (to trace a deletion), then purged.
    webhook_event_retention_days: Annotated[int, Field(ge=1, le=365)] = Field(
        14, alias="WEBHOOK_EVENT_RETENTION_DAYS"
    )
    lookback_weeks: Annotated[int, Field(ge=1, le=52)] = Field(6, alias="LOOKBACK_WEEKS")
    admin_password_hash: str | None = Field(None, alias="ADMIN_PASSWORD_HASH", repr=False)
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    # Worker and scheduler (worker/). A week is due this long after Sunday 24:00 local time.
    evaluation_grace_hours: Annotated[float, Field(ge=0, le=72)] = Field(
        6, alias="EVALUATION_GRACE_HOURS"
    )
    # Redis key prefix of the queues, so several deployments (or tests) can share one Redis.
    queue_namespace: str = Field("strideguard", alias="QUEUE_NAMESPACE")
    # How long a claimed job (evaluation, email, sync) counts as alive before it is retried;
    # keep it above the longest actor time limit (15 minutes).
    job_lease_seconds: Annotated[int, Field(ge=1, le=86400)] = Field(900, alias="JOB_LEASE_SECONDS")
    # Failed or crashed attempts after which a job gives up, with the reason on its DB row.
    job_max_attempts: Annotated[int, Field(ge=1, le=50)] = Field(8, alias="JOB_MAX_ATTEMPTS")
    # First retry delay; doubles each attempt, capped at one hour.
    job_retry_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(60, alias="JOB_RETRY_SECONDS")
    # A per-run alert waits this long for more runs of the same sync (a watch uploading a
    # week at once) so they share one message; then at most one alert per hour follows.
    run_alert_gather_seconds: Annotated[float, Field(ge=0, le=600)] = Field(
        20, alias="RUN_ALERT_GATHER_SECONDS"
    )
    # Per push/chat target (Apprise): connect and read timeout of one send, so a service that
    # hangs delays only its own message.
    channel_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = Field(
        10, alias="CHANNEL_TIMEOUT_SECONDS"
    )
    # How often the scheduler looks for due weeks and lost jobs.
    scheduler_tick_seconds: Annotated[float, Field(gt=0, le=3600)] = Field(
        60, alias="SCHEDULER_TICK_SECONDS"
    )
    # How long web, worker and scheduler wait at start-up for an unreachable PostgreSQL or
    # Redis before they give up (exit code 75); 0 gives up at once.
    startup_wait_seconds: Annotated[float, Field(ge=0, le=3600)] = Field(
        60, alias="STARTUP_WAIT_SECONDS"
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if not scheme.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"scheme {scheme or '(none)'!r} is not supported; use sqlite:///path "
                "or postgresql+psycopg://user:pass@host/db"
            )
        if scheme in ("postgresql", "postgres"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            return "postgresql+psycopg" + value[len(scheme) :]
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _check_smtp_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
            raise ValueError(
                "must look like smtp://user:pass@host:port (smtps:// or smtp+starttls:// for TLS)"
            )
        return value

    @field_validator("strava_base_url", "public_base_url")
    @classmethod
    def _check_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("strava_api_url")
    @classmethod
    def _check_optional_http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        return cls._check_http_url(value)

    @field_validator("token_encryption_key")
    @classmethod
    def _check_fernet_key(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            Fernet(value.encode())
        except (ValueError, TypeError):
            raise ValueError(
                "is not a Fernet key (32 url-safe base64 bytes); make one with "
                "`strideguard keys generate`"
            ) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for item in _items(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network; list the TLS proxy's address "
                    "(e.g. 10.0.0.5 or 172.16.0.0/12), comma-separated"
                ) from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _items(self.trusted_proxies)

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @property
    def unsubscribe_address(self) -> str | None:
        """Where mail clients send an unsubscribe request by email."""
        return self.unsubscribe_mailbox or parseaddr(self.mail_from)[1] or None

    @property
    def strava_api_base(self) -> str:
        """The API base every request goes to: STRAVA_API_URL, or the old one on the origin."""
        return self.strava_api_url or f"{self.strava_base_url}/api/v3"

    @property
    def embedded(self) -> bool:
        """True for the no-servers default: SQLite and the in-process queue."""
        return self.database_url.startswith("sqlite") and self.redis_url is None

    def fernet_key(self) -> bytes:
        """The key for tokens at rest; the embedded default may keep a generated one in ./var."""
        if self.token_encryption_key:
            return self.token_encryption_key.encode()
        return _local_secret("token.key", lambda: Fernet.generate_key().decode()).encode()

    def signing_key(self) -> str:
        """The key that signs OAuth state and email links."""
        if self.secret_key:
            return self.secret_key
        return _local_secret("secret.key", lambda: secrets.token_urlsafe(48))


def _local_secret(name: str, make: Callable[[], str]) -> str:
    """Keep a generated secret under ./var so restarts of the embedded default keep working.

    The file is created owner-only (strideguard/private_files.py); if another process made it
    first, its secret is the one everyone uses.
    """
    path = VAR_DIR / name
    if not path.exists():
        create_private_file(path, make() + "\n")
    return path.read_text().strip()


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = str(err["loc"][0]) if err["loc"] else "settings"
    alias = _ALIASES.get(name, name)
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"setting {alias}: {message}"


_ALIASES = {field: info.alias for field, info in Settings.model_fields.items() if info.alias}


def load_settings() -> Settings:
    """Build and check the settings, raising `SettingsError` with one readable line."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError(_first_error_line(exc)) from None
    if not settings.embedded:
        missing = [
            name
            for name, value in (
                ("TOKEN_ENCRYPTION_KEY", settings.token_encryption_key),
                ("SECRET_KEY", settings.secret_key),
            )
            if not value
        ]
        if missing:
            raise SettingsError(
                f"setting {missing[0]}: required outside the embedded default "
                "(PostgreSQL or Redis configured); generate one with `strideguard keys generate`"
            )
    elif not settings.token_encryption_key:
        log.warning(
            "TOKEN_ENCRYPTION_KEY is not set: using a generated key in var/token.key "
            "(fine for the embedded default; set it explicitly for any real deployment)"
        )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, loaded once; tests call `get_settings.cache_clear()`."""
    return load_settings()
