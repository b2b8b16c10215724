"""Alembic environment: runs on PostgreSQL and SQLite alike.

SQLite cannot ALTER most things in place, so migrations run in batch mode there; the naming
convention on the metadata keeps constraint names identical on both backends.

Batch mode rebuilds a table by copying it and dropping the original. With foreign keys
enforced, dropping a parent table (`athletes`) is a DELETE that cascades to every child row:
an upgrade would erase each runner's history. So on SQLite the keys are off while migrations
run, and checked before they are switched back on.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from strideguard.db import make_engine
from strideguard.models import Base

target_metadata = Base.metadata


class ForeignKeysBroken(RuntimeError):
    """A migration left rows pointing at nothing; the database was not committed."""


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Only outside a transaction does SQLite honour this pragma.
        if connection.in_transaction():
            connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        _migrate(connection)
    finally:
        if sqlite:
            if connection.in_transaction():
                connection.commit()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise ForeignKeysBroken(f"rows that point at nothing after migrating: {broken[:5]}")


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic config has no sqlalchemy.url")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `strideguard db upgrade`")
run_migrations_online()
