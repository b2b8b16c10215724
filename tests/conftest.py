"""Shared fixtures: real SQLite and PostgreSQL databases, the real Redis, clean settings.

Server-backed tests run whenever the servers answer. With STRIDEGUARD_REQUIRE_SERVICES=1 (CI),
an unreachable PostgreSQL or Redis stops the whole run at start-up instead of being skipped,
so a green run always means the server-backed tests ran.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from alembic import command
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from strideguard.db import alembic_config, make_engine, make_sessionmaker
from strideguard.models import Base
from strideguard.settings import Settings, get_settings, load_settings

SERVICES_REQUIRED = os.environ.get("STRIDEGUARD_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_FERNET_KEY = "Vdl3Kc0jR6hYkq1mRr9n1m2Vb9Hkq0bFqX3x2z8y7w4="


def _pg_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {make_url(PG_ADMIN_URL).render_as_string()}: {exc}"
    return None


def _redis_problem() -> str | None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        return f"Redis at {REDIS_URL}: {exc}"
    return None


_PROBLEMS: dict[str, str | None] = {}


def service_problem(name: str) -> str | None:
    """Why `name` ("postgresql" or "redis") cannot be used, or None; probed once per run."""
    if name not in _PROBLEMS:
        _PROBLEMS[name] = _pg_problem() if name == "postgresql" else _redis_problem()
    return _PROBLEMS[name]


def require_service(name: str) -> None:
    """Skip the test when the service is absent, unless CI requires it (then fail loudly)."""
    problem = service_problem(name)
    if problem is None:
        return
    if SERVICES_REQUIRED:
        pytest.fail(f"STRIDEGUARD_REQUIRE_SERVICES=1 but {problem}", pytrace=False)
    pytest.skip(f"not reachable: {problem}")


def pytest_sessionstart(session: pytest.Session) -> None:
    if not SERVICES_REQUIRED:
        return
    problems = [p for p in (service_problem("postgresql"), service_problem("redis")) if p]
    if problems:
        pytest.exit(
            "STRIDEGUARD_REQUIRE_SERVICES=1 and a required service is unreachable:\n  "
            + "\n  ".join(problems),
            returncode=3,
        )


# Hypothesis measures wall-clock time per example (deadline 200 ms) and per generated input
# (too_slow); on a loaded machine both fail tests whose code is right. Tests keep their own
# max_examples; only the time checks are off for all of them.
hypothesis_settings.register_profile(
    "strideguard", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("strideguard")


# ---------------------------------------------------------------- settings


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts from the defaults, in its own working directory (so ./var is private)."""
    for info in Settings.model_fields.values():
        if info.alias:
            monkeypatch.delenv(info.alias, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    get_settings.cache_clear()
    # A command under test may configure logging for the whole process; undo it.
    root.handlers[:] = handlers
    root.setLevel(level)


# ---------------------------------------------------------------- databases


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy, which is far faster than migrating."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A private, migrated PostgreSQL database for this run, dropped at the end."""
    require_service("postgresql")
    name = f"sg_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    command.upgrade(alembic_config(url), "head")
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Emptying the shared PostgreSQL database before each test: DELETE, children first, and the
# sequences back to 1. A TRUNCATE of every table did the same in about ten times the time
# (0.17 s against 0.015 s a test, some 700 tests a run), as it rewrites each table's files.
EMPTY_EVERY_TABLE = "; ".join(
    f'DELETE FROM "{table.name}"' for table in reversed(Base.metadata.sorted_tables)
)
RESTART_SEQUENCES = "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(EMPTY_EVERY_TABLE)
        connection.execute(text(RESTART_SEQUENCES))
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def app_settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an app on `db_url`, with the secrets a non-embedded deployment requires."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", TEST_FERNET_KEY)
    monkeypatch.setenv("SECRET_KEY", "test-signing-key-" + "x" * 32)
    return load_settings()


# ---------------------------------------------------------------- redis


@pytest.fixture
def redis_url() -> str:
    """The real Redis; tests isolate themselves with `redis_namespace`."""
    require_service("redis")
    return REDIS_URL


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A key prefix private to this test; its keys are deleted afterwards."""
    namespace = f"sgtest-{uuid.uuid4().hex[:10]}"
    yield namespace
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)
    client.close()
