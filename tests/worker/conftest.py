"""Worker fixtures: a runtime on the real Redis (private namespace) or the in-process queue,
real SMTP (aiosmtpd on loopback), and rows for an athlete with a Strava connection."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from strideguard.db import transaction
from strideguard.models import Athlete, StravaConnection
from strideguard.runtime import WorkerRuntime, start_runtime
from strideguard.settings import Settings, get_settings

# Short, so a killed worker's job is taken back within seconds, but not so short that a healthy
# attempt outlives it on a busy machine (nothing renews a lease): the reconciler would then
# start a second attempt, and tests that count attempts would see one too many.
LEASE_S = 5


@dataclass
class Inbox:
    """Messages an SMTP handler accepted; `stall` holds DATA until released (mid-send kills)."""

    messages: list[EmailMessage] = field(default_factory=list)
    # Recipients refused with a permanent 550 at RCPT time.
    refuse: set[str] = field(default_factory=set)
    stall: threading.Event | None = None
    stalled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self,
        _server: SMTP,
        _session: Session,
        envelope: Envelope,
        address: str,
        _rcpt_options: list[str],
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        stall = self.stall
        if stall is not None:
            self.stalled.set()
            # No answer until released: the client waits, and the test kills it meanwhile.
            while not stall.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 stalled"
        message = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.messages.append(message)
        return "250 OK"

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@dataclass
class SmtpServer:
    inbox: Inbox
    port: int
    controller: Controller

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that keeps what it accepts."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    server = SmtpServer(inbox, port, controller)
    yield server
    if inbox.stall is not None:
        inbox.stall.set()
    with contextlib.suppress(AssertionError, RuntimeError):
        server.stop()  # may already be stopped by the test


@pytest.fixture
def env_for(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings for a worker test on `database_url`: short leases and retries, so recovery
    happens in seconds; `extra` adds or overrides variables."""

    def make(database_url: str, **extra: str) -> Settings:
        values = {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret-key-for-links",
            "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "PUBLIC_BASE_URL": "https://strideguard.example.org",
            "MAIL_FROM": "strideguard <alerts@strideguard.example.org>",
            "JOB_LEASE_SECONDS": str(LEASE_S),
            "JOB_RETRY_SECONDS": "0.2",
            "JOB_MAX_ATTEMPTS": "3",
            "SCHEDULER_TICK_SECONDS": "0.3",
            **extra,
        }
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        return get_settings()

    return make


@pytest.fixture
def worker_env(env_for: Callable[..., Settings], db_url: str) -> Callable[..., Settings]:
    """`env_for` on the parametrised database (SQLite and PostgreSQL)."""
    return functools.partial(env_for, db_url)


@pytest.fixture
def sqlite_env(
    env_for: Callable[..., Settings], sqlite_template: Path, tmp_path: Path
) -> Callable[..., Settings]:
    """`env_for` on a private SQLite file only: the embedded default, or tests where the
    database does not matter."""
    path = tmp_path / "embedded.db"
    shutil.copy(sqlite_template, path)
    return functools.partial(env_for, f"sqlite:///{path}")


@pytest.fixture
def redis_settings(
    worker_env: Callable[..., Settings], redis_url: str, redis_namespace: str
) -> Settings:
    return worker_env(REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace)


@pytest.fixture
def runtime(redis_settings: Settings) -> Iterator[WorkerRuntime]:
    """A runtime on the real Redis broker, in this test's namespace; no workers consuming."""
    built = start_runtime(redis_settings)
    yield built
    built.close()


def queued(runtime: WorkerRuntime, queue: str) -> list[Any]:
    """Messages waiting (not delayed) on a Redis queue of this runtime's namespace."""
    client = runtime.broker.client  # type: ignore[attr-defined]
    namespace = runtime.settings.queue_namespace
    ids = client.lrange(f"{namespace}:{queue}", 0, -1)
    return [client.hget(f"{namespace}:{queue}.msgs", i) for i in ids]


def add_athlete(
    sessions: sessionmaker[DbSession],
    *,
    strava_id: int = 1001,
    timezone: str = "UTC",
    email: str | None = "runner@example.com",
    connected_at: dt.datetime | None = None,
    revoked: bool = False,
    **athlete_fields: Any,
) -> int:
    """An athlete with a Strava connection (placeholder tokens unless a test stores real ones)."""
    connected_at = connected_at or dt.datetime(2025, 1, 6, tzinfo=dt.UTC)
    with transaction(sessions) as session:
        athlete = Athlete(
            strava_athlete_id=strava_id,
            firstname="Ada",
            email=email,
            timezone=timezone,
            created_at=connected_at,
            **athlete_fields,
        )
        session.add(athlete)
        session.flush()
        session.add(
            StravaConnection(
                athlete_id=athlete.id,
                access_token_enc=b"-",
                refresh_token_enc=b"-",
                expires_at=connected_at,
                scopes="read,activity:read_all",
                status="revoked" if revoked else "active",
                created_at=connected_at,
                backfilled_at=connected_at,
            )
        )
        return athlete.id


@pytest.fixture
def running(
    worker_env: Callable[..., Settings],
    redis_url: str,
    redis_namespace: str,
    smtp: SmtpServer,
    sim: Any,
    clock: Any,
) -> Iterator[WorkerRuntime]:
    """Two worker threads on the real Redis, Strava at the test module's `sim` simulator (on
    its `clock`), mail at the real SMTP sink."""
    from strideguard.worker.embedded import InProcessWorker
    from tests.worker.strava_history import simulated_services

    settings = worker_env(
        REDIS_URL=redis_url, QUEUE_NAMESPACE=redis_namespace, **simulated_services(sim, smtp)
    )
    built = start_runtime(settings, clock=clock.now)
    pool = InProcessWorker(built, threads=2).start()
    yield built
    pool.stop()
    built.close()
