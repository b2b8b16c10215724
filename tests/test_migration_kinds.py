"""Migration 0013: every delivery is kept as a digest, and a welcome or a note may share a
digest's week; downgrading keeps the digests. On SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import MetaData, Table, create_engine, insert, select

from strideguard.db import alembic_config
from tests.test_migration_deliveries import NOW, WEEK, athlete_row

BEFORE = "0014_athlete_channels"


def test_deliveries_become_digests_and_other_kinds_may_share_their_week(db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, BEFORE)
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            meta = MetaData()
            athletes = Table("athletes", meta, autoload_with=connection)
            deliveries = Table("deliveries", meta, autoload_with=connection)
            connection.execute(insert(athletes), [athlete_row()])
            row = {
                "id": 5,
                "athlete_id": 1,
                "week_start": WEEK,
                "channel": "email",
                "message_id": "<digest-1@example.org>",
                "status": "sent",
                "attempts": 1,
                "crashes": 0,
                "created_at": NOW,
            }
            connection.execute(insert(deliveries), [row])
        command.upgrade(config, "head")
        with engine.begin() as connection:
            meta = MetaData()
            deliveries = Table("deliveries", meta, autoload_with=connection)
            athletes = Table("athletes", meta, autoload_with=connection)
            kept = connection.execute(select(deliveries.c.id, deliveries.c.kind)).all()
            assert [tuple(r) for r in kept] == [(5, "digest")]
            assert connection.execute(select(athletes.c.weekly_note)).scalar_one() is False
            welcome = {**row, "id": 6, "kind": "welcome", "message_id": "<welcome-1@example.org>"}
            connection.execute(insert(deliveries), [welcome])
        command.downgrade(config, BEFORE)
        with engine.connect() as connection:
            deliveries = Table("deliveries", MetaData(), autoload_with=connection)
            assert connection.execute(select(deliveries.c.id)).scalars().all() == [5]
        command.upgrade(config, "head")
    finally:
        engine.dispose()
