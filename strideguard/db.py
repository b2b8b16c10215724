"""Engine and sessions, plus the two start-up checks an operator hits first.

An unreachable database and an un-migrated one are the commonest first-run failures, so both
become one line that says what to check, instead of a driver traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from strideguard.private_files import create_private_file

if TYPE_CHECKING:
    from alembic.config import Config

# The card's migrations/ folder, installed as `strideguard.migrations` (a link in a checkout).
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used as configured; the message says what to do."""


class DatabaseUnreachable(DatabaseError):
    """The database server did not answer: it may be starting or restarting, so retry."""


def mask_url(url: str) -> str:
    """The URL as it is safe to print: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable DATABASE_URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys make "delete the athlete" cascade on SQLite as it does on PostgreSQL.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the web thread read while a worker thread writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder created and safe pragmas set.

    A new SQLite file is created owner-only before SQLite opens it: SQLite gives its `-wal`
    and `-shm` files the database file's mode, so all three stay private.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A `file:` URI (`?uri=true`) names its file in SQLite's own syntax: leave it to SQLite.
        if parsed.database and parsed.database != ":memory:" and "uri" not in parsed.query:
            create_private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
        connect_args={"connect_timeout": 5},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    # Imported on use: alembic.config pulls in every alembic command, which only the
    # migrating commands need, not each process that checks the schema at start.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory(MIGRATIONS_DIR).get_current_head()


def check_reachable(engine: Engine) -> None:
    """Connect once, turning a driver error into one line that names the masked URL."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnreachable(
            f"cannot reach the database at {mask_url(str(engine.url))}: {reason}. "
            "Check DATABASE_URL, that the server is running, and that the user may connect."
        ) from None


def check_migrated(engine: Engine) -> None:
    """Refuse to run against a schema older (or newer) than this code."""
    check_reachable(engine)
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    head = head_revision()
    if current != head:
        raise DatabaseError(
            f"the database at {mask_url(str(engine.url))} is at schema revision "
            f"{current or 'none'}, this code needs {head}: run `strideguard db upgrade`"
        )
