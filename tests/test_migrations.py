"""Migrations upgrade and downgrade cleanly on both backends and agree with the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from strideguard.db import alembic_config, head_revision
from strideguard.models import Base


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    engine.dispose()
    return revision


def test_models_and_migrations_agree(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        drift = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert drift == [], f"models differ from migrations: {drift}"


def test_downgrade_to_base_and_back(db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, "base")
    engine = create_engine(db_url)
    leftover = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    assert leftover == set()
    assert _revision(db_url) is None
    command.upgrade(config, "head")
    assert _revision(db_url) == head_revision()


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    config = alembic_config(db_url)
    command.upgrade(config, "head")
    command.upgrade(config, "head")
    assert _revision(db_url) == head_revision()
