"""Fixtures for the pages behind email links: the real app on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import make_engine, make_sessionmaker
from strideguard.models import Athlete
from strideguard.settings import Settings, get_settings
from strideguard.web.app import create_app


@pytest.fixture
def settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "pages-test-key-" + "z" * 32)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://testserver")
    return get_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client
    app.state.engine.dispose()


@pytest.fixture
def db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def athlete_id(db: sessionmaker[Session]) -> int:
    with db.begin() as session:
        athlete = Athlete(
            strava_athlete_id=134815,
            firstname="Ana",
            email="ana@example.org",
            units="km",
            timezone="Europe/Oslo",
            muted_rules=[],
        )
        session.add(athlete)
        session.flush()
        return athlete.id
