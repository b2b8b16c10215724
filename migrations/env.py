"""Alembic environment: runs on PostgreSQL and SQLite alike.

SQLite cannot ALTER most things in place, so migrations run in batch mode there; the naming
convention on the metadata keeps constraint names identical on both backends.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from strideguard.db import make_engine
from strideguard.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


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
