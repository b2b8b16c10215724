"""The runner's pages on the real app (SQLite and PostgreSQL), with a real SMTP sink."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from strideguard.integrations.strava.context import make_context
from strideguard.integrations.strava.simulator import Simulator
from strideguard.mailsink import OutboxSink
from strideguard.settings import Settings, get_settings
from tests.notifier import conftest as email_page_fixtures
from tests.runner.history import STRAVA_ID, seed_runner, strava_env, strava_simulator


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[OutboxSink]:
    with OutboxSink(tmp_path / "mail") as running:
        yield running


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with strava_simulator() as running:
        yield running


@pytest.fixture
def settings(
    db_url: str, sink: OutboxSink, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for name, value in strava_env(sim).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", "runner-pages-key-" + "r" * 32)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://testserver")
    monkeypatch.setenv("SMTP_URL", sink.smtp_url)
    # The seeded history spans 20 weeks; the default keeps only 7 days of activities.
    monkeypatch.setenv("RETENTION_DAYS", "150")
    return get_settings()


# The same app client and database handle as the email-link pages' tests.
client = email_page_fixtures.client
db = email_page_fixtures.db


@pytest.fixture
def runner(db: sessionmaker[Session], settings: Settings, sim: Simulator) -> int:
    """The seeded runner, connected to the simulator and synced 12 minutes ago."""
    ctx = make_context(settings, db)
    grant = sim.issue_tokens(STRAVA_ID)
    return seed_runner(db, dt.datetime.now(dt.UTC), ctx=ctx, grant=grant)


def signin_links(sink: OutboxSink, expected: int = 1) -> list[str]:
    """The sign-in links in every message the sink received, oldest first.

    The mail goes out after the response (a background task), so wait for `expected`."""
    deadline = time.monotonic() + 30
    while sink.received < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    links = []
    for path in sorted(sink.files.values(), key=lambda p: p.stat().st_mtime_ns):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        links += re.findall(r"https?://\S+/signin/open\?token=\S+", str(body.get_content()))
    return links
